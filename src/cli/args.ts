import { parseArgs, type ParseArgsConfig } from 'node:util';
import { commandTable, type CommandSpec } from '@opsbook/schema';
import { UsageError } from './errors';

/** A command line parsed against `schema/commands.json`. */
export interface ParsedCommand {
  /** The command's words, e.g. `runs list`. */
  command: string;
  spec: CommandSpec;
  values: Record<string, string | number | boolean | string[] | undefined>;
  positionals: Record<string, string>;
  /** Every value of a `variadic` positional (its first is also in `positionals`); empty for an `optional` one left out. */
  lists: Record<string, string[]>;
  help: boolean;
}

/** Commands the CLI runs (magic-only ones belong to the kernel). */
export function cliCommands(): [string, CommandSpec][] {
  return Object.entries(commandTable).filter(([, spec]) => !spec.magicOnly);
}

/**
 * Parses `argv` (without `node` and the script) with options built from the command table.
 * @returns `null` when no command is named (top-level usage is wanted).
 * @throws UsageError naming an unknown command or option, a missing or bad value.
 */
export function parseCommand(argv: readonly string[]): ParsedCommand | null {
  const firstOption = argv.findIndex((a) => a.startsWith('-'));
  const words = firstOption === -1 ? argv : argv.slice(0, firstOption);
  if (words.length === 0) return null;
  const commands = cliCommands();
  const found = commands
    .filter(([name]) => {
      const parts = name.split(' ');
      return parts.every((part, i) => words[i] === part);
    })
    .sort((a, b) => b[0].length - a[0].length)[0];
  if (!found) {
    const group = commands.filter(([name]) => name.startsWith(`${words[0]} `)).map(([name]) => name);
    if (group.length > 0 && words.length === 1) {
      throw new UsageError(`"${words[0]}" needs a subcommand: ${group.join(', ')}`);
    }
    const unknown = group.length > 0 ? `${words[0]} ${words[1]}` : words[0];
    throw new UsageError(`unknown command "${unknown}"; run opsbook --help for the list`);
  }
  const [command, spec] = found;
  const rest = argv.slice(command.split(' ').length);
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = {
      type: option.type === 'boolean' ? 'boolean' : 'string',
      ...(option.short ? { short: option.short } : {}),
      ...(option.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(command, error));
  }
  const values: ParsedCommand['values'] = {};
  const help = parsed.values.help === true;
  for (const [name, option] of Object.entries(spec.options)) {
    const raw = parsed.values[name];
    if (raw === undefined) continue;
    if (option.multiple) {
      values[name] = (raw as (string | boolean)[]).map(String);
      continue;
    }
    if (Array.isArray(raw)) throw new UsageError(`--${name} is given more than once`);
    if (option.type === 'integer') {
      if (!/^-?\d+$/.test(String(raw))) throw new UsageError(`--${name} must be an integer, not ${JSON.stringify(raw)}`);
      values[name] = Number(raw);
    } else {
      values[name] = raw;
    }
    if (option.choices && !option.choices.includes(String(raw))) {
      throw new UsageError(`--${name} must be one of ${option.choices.join(', ')}, not ${JSON.stringify(raw)}`);
    }
  }
  const positionals: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  const variadic = spec.positionals[spec.positionals.length - 1]?.variadic === true;
  if (!help) {
    if (!variadic && parsed.positionals.length > spec.positionals.length) {
      throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[spec.positionals.length])} for "${command}"`);
    }
    spec.positionals.forEach((positional, i) => {
      const value = parsed.positionals[i];
      if (value === undefined && positional.optional) {
        // Left out: the command decides whether something else (an option) stands in for it.
        if (positional.variadic) lists[positional.name] = [];
        return;
      }
      if (value === undefined) throw new UsageError(`"${command}" needs ${positional.name.toUpperCase()}: ${positional.help}`);
      positionals[positional.name] = value;
      if (positional.variadic) lists[positional.name] = parsed.positionals.slice(i);
    });
  }
  return { command, spec, values, positionals, lists, help };
}

function describeParseError(command: string, error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'([^' ]+)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option} for "${command}"; run opsbook ${command} --help`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `option ${option} of "${command}" needs a value`;
  return message.split('\n')[0];
}

/** Usage of one command, from the table. */
export function commandUsage(command: string, spec: CommandSpec): string {
  const positionals = spec.positionals
    .map((p) => {
      const shown = `${p.name.toUpperCase()}${p.variadic ? ' ...' : ''}`;
      return ` ${p.optional ? `[${shown}]` : shown}`;
    })
    .join('');
  const rows: [string, string][] = spec.positionals.map((p) => [p.name.toUpperCase(), p.help]);
  const optionRows: [string, string][] = Object.entries(spec.options).map(([name, option]) => {
    const short = option.short ? `-${option.short}, ` : '    ';
    const value = option.type === 'boolean' ? '' : option.choices ? ` {${option.choices.join('|')}}` : ` <${option.type === 'integer' ? 'n' : 'value'}>`;
    return [`${short}--${name}${value}`, option.help];
  });
  optionRows.push(['-h, --help', 'Show this help.']);
  const width = Math.max(...[...rows, ...optionRows].map(([left]) => left.length));
  const lines = [`Usage: opsbook ${command}${positionals} [options]`, '', spec.summary, ''];
  if (rows.length > 0) lines.push('Arguments:', ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`), '');
  lines.push('Options:', ...optionRows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`));
  return `${lines.join('\n')}\n`;
}

/** Top-level usage: every command with its summary. */
export function topUsage(): string {
  const commands = cliCommands();
  const width = Math.max(...commands.map(([name]) => name.length));
  return [
    'Usage: opsbook <command> [options]',
    '',
    'Commands:',
    ...commands.map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    '',
    'Run opsbook <command> --help for the options of a command.',
    '',
  ].join('\n');
}

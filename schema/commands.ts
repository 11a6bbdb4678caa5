import table from './commands.json';

export interface OptionSpec {
  type: 'string' | 'integer' | 'boolean';
  short?: string;
  choices?: string[];
  help: string;
}

export interface CommandSpec {
  summary: string;
  magicOnly?: boolean;
  positionals: { name: string; help: string }[];
  options: Record<string, OptionSpec>;
}

/** Commands keyed by their words (`runs list`), shared with the Python magics. */
export const commandTable = table.commands as Record<string, CommandSpec>;

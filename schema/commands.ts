import table from './commands.json';

export interface OptionSpec {
  type: 'string' | 'integer' | 'boolean';
  short?: string;
  choices?: string[];
  /** The option may be given more than once; its value is then the list of values given. */
  multiple?: boolean;
  help: string;
}

export interface CommandSpec {
  summary: string;
  magicOnly?: boolean;
  /** The last positional may be `variadic`: it takes one value or more; an `optional` one may be left out (zero values). */
  positionals: { name: string; help: string; variadic?: boolean; optional?: boolean }[];
  options: Record<string, OptionSpec>;
}

/** Commands keyed by their words (`runs list`), shared with the Python magics. */
export const commandTable = table.commands as Record<string, CommandSpec>;

import fc from 'fast-check';
import { DuckDBInstance, type DuckDBConnection, type DuckDBInstance as Instance } from '@duckdb/node-api';
import { BadInputError } from '../store/errors';
import { quoteIdent, quoteLiteral } from './sql';

describe('quoting', () => {
  let instance: Instance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });

  it('round-trips any string as a column name, and any string as a literal', async () => {
    const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(name, async (column) => {
        const sql = `SELECT ${quoteIdent(column)} FROM (SELECT ${quoteLiteral(column)} AS ${quoteIdent(column)})`;
        const reader = await connection.runAndReadAll(sql);
        expect(reader.columnNames()).toEqual([column]);
        expect(reader.getRowsJS()).toEqual([[column]]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses NUL, which no DuckDB identifier or string may hold', () => {
    expect(() => quoteIdent('a\u0000b')).toThrow(/not a usable SQL identifier/);
    expect(() => quoteLiteral('a\u0000b', 'pattern')).toThrow(BadInputError);
  });
});

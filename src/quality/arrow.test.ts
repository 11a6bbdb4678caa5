import { tableFromIPC } from 'apache-arrow';
import { encodeSample } from './arrow';
import { openSandbox } from './sandbox';
import { tempFolder, writeTable } from './testing';

describe('encodeSample', () => {
  const folder = tempFolder('arrow');
  afterAll(() => folder.cleanup());

  it('keeps int64 beyond 2^53, decimals, dates and timestamps exact in Arrow, and JSON-safe in rows', async () => {
    const data = await writeTable(
      folder.dir,
      'typed',
      `SELECT * FROM (VALUES
        (9007199254740993::BIGINT, 12345678901234.567::DECIMAL(18,3), DATE '2024-02-29', TIMESTAMP '2024-05-01 12:34:56.123456', 'a''b', true, 1.5::DOUBLE, 7::INTEGER),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (-5::BIGINT, -0.001::DECIMAL(18,3), DATE '1969-12-31', TIMESTAMP '1900-01-01 00:00:00', 'é', false, 'NaN'::DOUBLE, -1::INTEGER)
      ) AS t(big, dec, day, ts, txt, flag, dbl, i)`,
    );
    const sandbox = await openSandbox({ tables: { data } });
    try {
      const sample = encodeSample(await sandbox.rows('SELECT * FROM data'));
      expect(sample.columns).toEqual([
        { name: 'big', type: 'BIGINT' },
        { name: 'dec', type: 'DECIMAL(18,3)' },
        { name: 'day', type: 'DATE' },
        { name: 'ts', type: 'TIMESTAMP' },
        { name: 'txt', type: 'VARCHAR' },
        { name: 'flag', type: 'BOOLEAN' },
        { name: 'dbl', type: 'DOUBLE' },
        { name: 'i', type: 'INTEGER' },
      ]);
      expect(sample.rows).toEqual([
        ['9007199254740993', '12345678901234.567', '2024-02-29', '2024-05-01T12:34:56.123456', "a'b", true, 1.5, 7],
        [null, null, null, null, null, null, null, null],
        [-5, '-0.001', '1969-12-31', '1900-01-01T00:00:00', 'é', false, 'NaN', -1],
      ]);
      const table = tableFromIPC(Buffer.from(sample.arrow!, 'base64'));
      expect(table.numRows).toBe(3);
      expect(table.getChild('big')!.get(0)).toBe(9007199254740993n);
      expect(table.getChild('big')!.get(1)).toBeNull();
      expect(table.getChild('big')!.get(2)).toBe(-5n);
      expect(String(table.schema.fields[1].type)).toBe('Decimal[18e+3]');
      const words = table.getChild('dec')!.data[0].values as Uint32Array;
      const unscaled = (i: number): bigint =>
        BigInt.asIntN(128, [0, 1, 2, 3].reduce((sum, w) => sum + (BigInt(words[i * 4 + w]) << BigInt(32 * w)), 0n));
      expect(unscaled(0)).toBe(12345678901234567n);
      expect(unscaled(2)).toBe(-1n);
      expect((table.getChild('ts')!.data[0].values as BigInt64Array)[0]).toBe(1714566896123456n);
      expect(table.getChild('day')!.get(0)).toBe(Date.UTC(2024, 1, 29));
      expect(String(table.schema.fields[3].type)).toMatch(/Timestamp<MICROSECOND>/);
      expect(table.getChild('txt')!.get(0)).toBe("a'b");
      expect(table.getChild('flag')!.get(2)).toBe(false);
      expect(table.getChild('i')!.get(2)).toBe(-1);
    } finally {
      sandbox.close();
    }
  });
});

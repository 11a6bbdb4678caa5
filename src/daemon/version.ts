/** Version of @opsbook/core reported by `/health`; kept equal to src/package.json by a test. */
export const CORE_VERSION = '0.1.0';

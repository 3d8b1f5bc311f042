import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/fixtures/remove-temp-dirs.ts'], testTimeout: 5_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          setupFiles: ['test/fixtures/remove-temp-dirs.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // VM and root tests share this host's 2 cores; files run one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});

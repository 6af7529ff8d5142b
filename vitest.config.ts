import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/cluster/ starts real daemons: npm run test:cluster (vitest.cluster.config.ts) runs it.
    exclude: [...configDefaults.exclude, "test/cluster/**"],
    environment: "node",
    testTimeout: 120_000,
    // One temporary directory per run, removed at its end (test/support/temp-root.ts).
    globalSetup: ["test/support/temp-root.ts"],
  },
});

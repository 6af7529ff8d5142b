import { defineConfig } from "vitest/config";

// npm run test:cluster: tests that start real daemons (a single-node Slurm cluster, as root), kept
// out of `npm test` (vitest.config.ts excludes test/cluster/).
export default defineConfig({
  test: {
    include: ["test/cluster/**/*.test.ts"],
    environment: "node",
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});

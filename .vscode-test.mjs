import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'dist/test/electron/*.test.js',
  mocha: { ui: 'tdd', timeout: 60000 },
});

// Lint: TypeScript + Vue recommended rules, and the layering rule (STYLE.md): core imports nothing
// environment-specific; the renderer never reaches Node, Electron or the main side; only the Electron entry
// and preload import 'electron'.
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import vueParser from 'vue-eslint-parser';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'worker_threads', 'http', 'url', 'util', 'stream', 'zlib'];
const pattern = (group, message) => ({ group, message });

const layer = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'models/**', 'build/native/**', '.cache/**'] },
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parser: vueParser, parserOptions: { parser: tseslint.parser, sourceType: 'module' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/multi-word-component-names': 'error',
    },
  },
  layer(['core/**/*.ts'], [
    pattern([...nodeBuiltins, 'electron', 'better-sqlite3', 'onnxruntime-node', 'sharp', 'vue', 'pinia'], 'core/ is pure TypeScript: no Node, DOM, Electron or UI imports'),
    pattern(['**/electron/**', '**/renderer/**', '**/db/**', '../../electron/*', '../../renderer/*', '../../db/*', '../electron/*', '../renderer/*', '../db/*'], 'core/ may not import the layers built on it'),
  ]),
  layer(['renderer/**/*.ts', 'renderer/**/*.vue'], [
    pattern([...nodeBuiltins, 'electron', 'better-sqlite3', 'onnxruntime-node', 'sharp'], 'the renderer runs in a sandboxed page: browser APIs and core/ only'),
    pattern(['**/electron/**', '**/db/**'], 'the renderer reaches the main side only through the typed API (renderer/src/api.ts)'),
  ]),
  layer(['db/**/*.ts'], [
    pattern(['electron', '**/renderer/**', '**/electron/**'], 'db/ is data access only'),
  ]),
  layer(['electron/**/*.ts'], [
    pattern(['electron', '**/renderer/**'], "only electron/main/* imports 'electron'; nothing on the main side imports the renderer"),
  ]),
  layer(['electron/main/**/*.ts'], [
    pattern(['**/renderer/**'], 'the main process reaches the renderer only through the API'),
  ]),
  layer(['tests/**/*.ts', '**/*.test.ts'], []),
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);

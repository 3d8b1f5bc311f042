import { execFileSync } from 'node:child_process';

/** Integration tests run the real `bin/kiwi.js`, which runs dist/: build it once per run. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

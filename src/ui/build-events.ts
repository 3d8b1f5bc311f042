import type { RuntimeEvent, RuntimeEventHandler } from '../protocol/events.js';
import { renderPlain } from './runtime-events.js';

/** The build's own steps, and a boxbuild's host steps: shown as they start and end (the runtime's steps only with --debug). */
const BUILD_STEPS = new Set(['box', 'upload', 'compress', 'bootstrap', 'sources', 'post-bootstrap', 'packages', 'archives', 'overlay', 'setup', 'config', 'uninstall', 'images', 'clean', 'commit', 'packages-list', 'archive', 'container']);

/** Plain lines on stderr: each build step as it starts and ends with its elapsed time; the rest as `kiwi run` shows it. */
export function renderBuild(mode: 'normal' | 'debug'): RuntimeEventHandler {
  const plain = renderPlain(mode);
  return (event: RuntimeEvent) => {
    if (mode === 'normal' && event.type === 'step' && BUILD_STEPS.has(event.id)) {
      if (event.state === 'start') process.stderr.write(`kiwi: ${event.id}: ${event.message ?? ''}\n`);
      else if (event.state === 'done') process.stderr.write(`kiwi: ${event.id} done (${event.message ?? ''})\n`);
      else process.stderr.write(`kiwi: ${event.id} failed${event.message ? `: ${event.message}` : ''}\n`);
      return;
    }
    plain(event);
  };
}

import type { Command } from 'commander';
import type { BoxListing } from '../box/list-boxes.js';
import { formatBytes } from '../common/units.js';
import { runCommand } from './run-command.js';

export async function printBoxList(json: boolean): Promise<void> {
  // Loaded on use: `kiwi --help` and other commands need none of it (start-up time).
  const [{ loadCatalog }, { listBoxes }, { cacheRoot }] = await Promise.all([
    import('../box/catalog.js'),
    import('../box/list-boxes.js'),
    import('../box/paths.js'),
  ]);
  const rows = await listBoxes(cacheRoot(), loadCatalog());
  process.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
}

function formatTable(rows: BoxListing[]): string {
  const table = [
    ['BOX', 'ARCH', 'CACHED', 'SIZE', 'VERIFIED', 'SOURCE'],
    ...rows.map((row) => [
      row.name,
      row.arch,
      row.cachedVersion ?? '-',
      row.cachedVersion ? formatBytes(row.diskBytes) : '-',
      row.cachedVersion ? (row.verified ? 'yes' : 'NO') : '-',
      row.manifest ?? '(none published)',
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
  return table.map((line) => line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function registerBoxList(box: Command): void {
  box
    .command('list')
    .description('list the boxes of the catalog and what of them is cached')
    .option('--json', 'print the list as JSON')
    .action((options: { json?: boolean }) => runCommand(() => printBoxList(Boolean(options.json))));
}

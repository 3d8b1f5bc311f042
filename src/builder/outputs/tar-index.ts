/**
 * tar's index of an archive it writes: with these options GNU tar lists each entry, as
 * "block N: NAME", in `file`, N being the 512-byte block where the entry's first header
 * begins (a pax header's, if it has one). The compression cuts chunks at such places.
 */
export function tarIndexOptions(file: string): string[] {
  return ['--verbose', '--block-number', `--index-file=${file}`];
}

/** The block where entry `name` begins, by the index; undefined if it lists no such entry. */
export function indexedBlock(index: string, name: string): number | undefined {
  const line = index.split('\n').find((entry) => entry.endsWith(`: ${name}`));
  const block = line === undefined ? undefined : /^block (\d+): /.exec(line)?.[1];
  return block === undefined ? undefined : Number(block);
}

/** Quotes an argv for a POSIX shell, so `kiwi box shell NAME -- CMD ARGS` runs exactly CMD ARGS. */
export function shellQuote(argv: string[]): string {
  return argv.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * The `.packages` file: one line per installed package, as KIWI writes it for dpkg
 * (kiwi/system/setup.py _export_deb_package_list): name|None|version|None|arch|None|None,
 * sorted, newline-terminated.
 */
export const DPKG_QUERY_FORMAT = '${Package}|None|${Version}|None|${Architecture}|None|None\\n';

/** dpkg-query's argv for a root tree's database. */
export function dpkgQueryArgv(rootDir: string): string[] {
  return ['dpkg-query', `--admindir=${rootDir}/var/lib/dpkg`, '-W', `-f=${DPKG_QUERY_FORMAT}`];
}

/** dpkg-query's output as the file's text: sorted (by code unit, as Python's sorted), trailing newline. */
export function formatPackageList(dpkgQueryOutput: string): string {
  const lines = dpkgQueryOutput.split('\n').filter((line) => line.trim() !== '');
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

import type { User } from '../description/model.js';

/**
 * The shell commands that create the description's groups and users inside the image
 * root (passwd's groupadd, useradd, usermod, chpasswd). Pure: every value is quoted.
 * A user that exists (root) is modified, not created. Plain passwords are hashed by
 * chpasswd (yescrypt on bookworm); encrypted ones are set as written.
 */
export function usersScript(users: readonly User[]): string {
  const lines: string[] = [];
  const groups = [...new Set(users.flatMap((user) => user.groups))];
  for (const group of groups) lines.push(`getent group ${q(group)} >/dev/null || groupadd ${q(group)}`);
  for (const user of users) {
    const options: string[] = [];
    if (user.home !== undefined) options.push('-d', q(user.home));
    if (user.shell !== undefined) options.push('-s', q(user.shell));
    if (user.id !== undefined) options.push('-u', String(user.id));
    if (user.realName !== undefined) options.push('-c', q(user.realName));
    const [primary, ...rest] = user.groups;
    if (primary !== undefined) options.push('-g', q(primary));
    if (rest.length > 0) options.push('-G', q(rest.join(',')));
    const opts = options.length > 0 ? ` ${options.join(' ')}` : '';
    lines.push(`if getent passwd ${q(user.name)} >/dev/null; then`);
    lines.push(options.length > 0 ? `    usermod${opts} ${q(user.name)}` : '    :');
    lines.push('else');
    lines.push(`    useradd -m${opts} ${q(user.name)}`);
    lines.push('fi');
    if (user.password !== '') {
      lines.push(user.passwordFormat === 'plain' ? `printf '%s\\n' ${q(`${user.name}:${user.password}`)} | chpasswd` : `usermod -p ${q(user.password)} ${q(user.name)}`);
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** Single-quotes a value for sh. */
export function q(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

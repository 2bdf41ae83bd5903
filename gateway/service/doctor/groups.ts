/**
 * Who may open a device file, in words an operator can act on: the file's owner, group and
 * mode, whether the user is in that group according to /etc/group, and whether this process
 * actually has the group. The last two differ after `usermod -aG`: group membership is read at
 * login, so a shell (or a service) started before it does not have the new group until the user
 * logs in again (or the service restarts).
 */
import type { HostFiles, ProcessIdentity } from './environment.ts';

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** /etc/group: name:password:gid:member,member */
export function readGroups(files: HostFiles): GroupEntry[] {
  return parseColonFile(files, '/etc/group').flatMap((f) => {
    const gid = Number(f[2]);
    return f[0] && Number.isInteger(gid) ? [{ name: f[0], gid, members: (f[3] ?? '').split(',').filter(Boolean) }] : [];
  });
}

/** /etc/passwd: name:password:uid:gid:... → name and primary gid by uid. */
export function readUsers(files: HostFiles): Array<{ name: string; uid: number; gid: number }> {
  return parseColonFile(files, '/etc/passwd').flatMap((f) => {
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    return f[0] && Number.isInteger(uid) && Number.isInteger(gid) ? [{ name: f[0], uid, gid }] : [];
  });
}

function parseColonFile(files: HostFiles, file: string): string[][] {
  let text: string;
  try {
    text = files.readText(file);
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(':'));
}

/** `crw-rw---- root:i2c` */
export function describeOwnership(files: HostFiles, file: string): { text: string; group: string | undefined; gid: number } | undefined {
  let st: { uid: number; gid: number; mode: number };
  try {
    st = files.stat(file);
  } catch {
    return undefined;
  }
  const group = readGroups(files).find((g) => g.gid === st.gid)?.name;
  const owner = readUsers(files).find((u) => u.uid === st.uid)?.name ?? String(st.uid);
  return { text: `${modeString(st.mode)} ${owner}:${group ?? st.gid}`, group, gid: st.gid };
}

export function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o020000 ? 'c' : (mode & 0o170000) === 0o040000 ? 'd' : (mode & 0o170000) === 0o120000 ? 'l' : '-';
  const bits = 'rwxrwxrwx';
  let out = type;
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

export interface Membership {
  /** The user is in the group according to /etc/group (or it is their primary group). */
  configured: boolean;
  /** This process has the group (real, effective or supplementary gid). */
  active: boolean;
}

export function groupMembership(files: HostFiles, identity: ProcessIdentity, groupName: string, gid: number): Membership {
  const entry = readGroups(files).find((g) => g.name === groupName);
  const primary = readUsers(files).find((u) => u.name === identity.user)?.gid;
  const configured = (entry?.members.includes(identity.user) ?? false) || primary === gid;
  const active = identity.gid === gid || identity.groups.includes(gid);
  return { configured, active };
}

/** The fix for "the process lacks group `group`", depending on where the membership stands. */
export function groupFix(files: HostFiles, identity: ProcessIdentity, group: string, gid?: number): { fix: string; reason: string } {
  const m = groupMembership(files, identity, group, gid ?? readGroups(files).find((g) => g.name === group)?.gid ?? -1);
  if (m.configured && !m.active) {
    return {
      reason: 'group-not-active',
      fix: `${identity.user} is in group ${group} in /etc/group, but this process started before that: log in again (or restart the service) so it gets the group`,
    };
  }
  return {
    reason: 'not-in-group',
    fix: `sudo usermod -aG ${group} ${identity.user}, then log in again (a systemd service: SupplementaryGroups=${group})`,
  };
}

/** "pi, uid 1000, groups pi i2c" for this process. */
export function describeIdentity(files: HostFiles, identity: ProcessIdentity): string {
  const groups = readGroups(files);
  const name = (gid: number) => groups.find((g) => g.gid === gid)?.name ?? String(gid);
  const gids = [identity.gid, ...identity.groups.filter((g) => g !== identity.gid)];
  return `${identity.user}, uid ${identity.uid}, groups ${gids.map(name).join(' ')}`;
}

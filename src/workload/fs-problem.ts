/** Why the file system refused, in words: the errno code alone (ENOENT, EACCES…) tells a user little. */
const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "not permitted",
  EROFS: "a read-only file system",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "it already exists",
  ENOSPC: "no space left on the device",
  EDQUOT: "over the disk quota",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many symbolic links",
  EMFILE: "too many open files",
  EBUSY: "the file is busy",
  EINVAL: "the file system does not accept it",
};

export function fsProblem(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? (REASONS[code] ?? "the system refused") : "the system refused";
}

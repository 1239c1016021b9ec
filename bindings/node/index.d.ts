/**
 * The absolute path of the wecare_backup loadable library this package
 * installed (`.../wecare_backup.so`), for drivers that `load` does not know.
 * Throws when there is none for this platform (the install step failed).
 */
export declare function getLoadablePath(): string;

/**
 * A connection that loads an extension from a path: a better-sqlite3
 * `Database`, or a `node:sqlite` `DatabaseSync`.
 */
export interface ExtensionLoader {
  loadExtension(path: string, entryPoint?: string): unknown;
  /** `node:sqlite` only: `load` switches loading on for the load and off again. */
  enableLoadExtension?(allow: boolean): unknown;
}

/**
 * Loads the extension into `db`: a better-sqlite3 `Database`, or a
 * `node:sqlite` `DatabaseSync` opened with `{ allowExtension: true }`.
 * Its SQL functions (`wecare_backup_create()`, ...) and the
 * `wecare_backup_list` table then exist on that connection.
 */
export declare function load(db: ExtensionLoader): void;

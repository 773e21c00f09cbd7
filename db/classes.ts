/** Label classes. Colours are assigned from a palette unless given. */
import { ApiError } from '../core/api/contract';
import type { ClassRecord } from '../core/api/records';
import type { Db } from './connection';

const palette = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe',
  '#008080', '#e6beff', '#9a6324', '#800000', '#aaffc3', '#808000', '#000075'];

/** An unknown class or a name clash: answered by the API as bad input, not a fault. */
export class ClassError extends ApiError {
  override name = 'ClassError';
  constructor(message: string) {
    super('invalid-class', message);
  }
}

export function classRepository(db: Db) {
  const all = db.prepare('SELECT id, name, color FROM classes ORDER BY id');
  const byId = db.prepare('SELECT id, name, color FROM classes WHERE id = ?');
  const byName = db.prepare('SELECT id, name, color FROM classes WHERE name = ?');
  const insert = db.prepare('INSERT INTO classes (name, color) VALUES (?, ?)');
  const count = db.prepare('SELECT count(*) FROM classes').pluck();

  function get(id: number): ClassRecord {
    const row = byId.get(id) as ClassRecord | undefined;
    if (!row) throw new ClassError(`no class with id ${id}`);
    return row;
  }

  return {
    list: () => all.all() as ClassRecord[],
    get,
    findByName: (name: string) => byName.get(name) as ClassRecord | undefined,
    create(name: string, color?: string): ClassRecord {
      if (byName.get(name)) throw new ClassError(`a class named "${name}" already exists`);
      const id = Number(insert.run(name, color ?? palette[(count.get() as number) % palette.length]).lastInsertRowid);
      return get(id);
    },
    /** Finds a class by name (case-insensitive) or creates it; for importers. */
    ensure(name: string): ClassRecord {
      return (byName.get(name) as ClassRecord | undefined) ?? this.create(name);
    },
    update(id: number, changes: { name?: string; color?: string }): ClassRecord {
      const current = get(id);
      const clash = changes.name ? (byName.get(changes.name) as ClassRecord | undefined) : undefined;
      if (clash && clash.id !== id) throw new ClassError(`a class named "${changes.name}" already exists`);
      db.prepare('UPDATE classes SET name = ?, color = ? WHERE id = ?').run(changes.name ?? current.name, changes.color ?? current.color, id);
      return get(id);
    },
    remove(id: number): void {
      get(id);
      db.prepare('DELETE FROM classes WHERE id = ?').run(id);
    },
  };
}

export type ClassRepository = ReturnType<typeof classRepository>;

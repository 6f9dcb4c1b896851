import { ConcurrentUpdateError } from '../../../src/core/errors.js';
import type { ScheduleRecord } from '../../../src/core/triggers/schedule.js';
import type { ScheduleRegistry } from '../../../src/ports/schedule-registry.js';
import type { ScheduleStore } from '../../../src/ports/schedule-store.js';
import type { SecretSource } from '../../../src/ports/secret-source.js';

/** ScheduleStore in memory, for fast service tests (the shared contract suite holds it to the Dynamo one). */
export class MemoryScheduleStore implements ScheduleStore {
  readonly schedules = new Map<string, ScheduleRecord>();
  readonly cursors = new Map<string, Date>();

  async createSchedule(schedule: ScheduleRecord): Promise<boolean> {
    if (this.schedules.has(schedule.id)) return false;
    this.schedules.set(schedule.id, structuredClone(schedule));
    return true;
  }
  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    const found = this.schedules.get(id);
    return found ? structuredClone(found) : undefined;
  }
  async listSchedules(): Promise<ScheduleRecord[]> {
    return [...this.schedules.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((s) => structuredClone(s));
  }
  async updateSchedule(next: ScheduleRecord, expectedVersion: number): Promise<ScheduleRecord> {
    const current = this.schedules.get(next.id);
    if (!current || current.version !== expectedVersion) {
      throw new ConcurrentUpdateError('ConcurrentUpdate', `Schedule ${next.id} changed`);
    }
    const stored = { ...structuredClone(next), version: expectedVersion + 1 };
    this.schedules.set(next.id, stored);
    return structuredClone(stored);
  }
  async deleteSchedule(id: string): Promise<boolean> {
    return this.schedules.delete(id);
  }
  async getCursor(id: string): Promise<Date | undefined> {
    return this.cursors.get(id);
  }
  async setCursor(id: string, handledUntil: Date): Promise<void> {
    const current = this.cursors.get(id);
    if (!current || current < handledUntil) this.cursors.set(id, handledUntil);
  }
  async deleteCursor(id: string): Promise<void> {
    this.cursors.delete(id);
  }
}

/** Records what would be registered with EventBridge Scheduler; `failNext` makes the next call throw. */
export class RecordingRegistry implements ScheduleRegistry {
  readonly registered = new Map<string, ScheduleRecord>();
  readonly calls: string[] = [];
  failNext?: Error;
  async put(schedule: ScheduleRecord): Promise<void> {
    this.#maybeFail();
    this.calls.push(`put ${schedule.id}`);
    this.registered.set(schedule.id, schedule);
  }
  async delete(id: string): Promise<void> {
    this.#maybeFail();
    this.calls.push(`delete ${id}`);
    this.registered.delete(id);
  }
  #maybeFail(): void {
    const error = this.failNext;
    this.failNext = undefined;
    if (error) throw error;
  }
}

/** Secrets from a map. */
export class MapSecrets implements SecretSource {
  constructor(readonly values: Record<string, string>) {}
  async getSecret(arn: string): Promise<string> {
    const value = this.values[arn];
    if (value === undefined) throw new Error(`no secret ${arn}`);
    return value;
  }
}

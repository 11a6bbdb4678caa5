/**
 * Work that is asked for again while it runs: a call while a run is under way joins it and has it
 * run once more afterwards, so a burst of calls costs at most two runs and never two at once.
 */
export class RepeatingTask {
  private running: Promise<void> | null = null;
  private again = false;

  /**
   * @param work what to run; it must not reject (it shows its own failures)
   * @param stopped whether to skip the run asked for meanwhile (the owner was disposed)
   */
  constructor(
    private readonly work: () => Promise<void>,
    private readonly stopped: () => boolean = () => false,
  ) {}

  /** Runs the work now, or once more after the run under way; settles when no run is left. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.work();
      } while (this.again && !this.stopped());
    })().finally(() => (this.running = null));
    return this.running;
  }
}

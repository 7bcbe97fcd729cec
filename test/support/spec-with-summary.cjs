// mocha's spec reporter, plus one closing line in the plain form CI reads:
// "tests: N passed, N failed, N skipped".
'use strict';
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = this.stats;
      // After the spec reporter's own epilogue, which is also bound to EVENT_RUN_END.
      process.nextTick(() => {
        process.stdout.write(`tests: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
      });
    });
  }
}

module.exports = SpecWithSummary;

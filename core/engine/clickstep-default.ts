/**
 * The shipped learned click step's weights (trained by models/pwtrain/clickstep.py on train/ data only; see the
 * weights file's `meta` for steps, time and held-out numbers). Kept apart from clickstep.ts so that code which
 * never runs the learned step does not bundle the weights.
 */
import { type ClickStepWeights, checkClickStepWeights } from './clickstep';
import weights from './clickstep-weights.json';

export const learnedClickStep: ClickStepWeights = checkClickStepWeights(weights as ClickStepWeights);

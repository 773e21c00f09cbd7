/** Placeholder: owned by the engineer building this area; keys are looked up as `<namespace>.<key>`. */
import type { MessageTree } from '../index';

export default {} satisfies MessageTree;

/** Click-to-mask engine on stored embedding maps, plus the benchmark's click protocol. Pure: no Node, DOM or Electron. */
export { type Box, type Click, type ProbabilityGrid, type SegmentOutput, type Segmenter, boxFromCorners } from './types';
export { type EngineOptions, createSegmenter, defaultEngineOptions } from './segmenter';
export { createColorPositionSegmenter } from './colorpos';
export { maskThreshold } from './upsample';
export { squaredDistanceTransform } from './distance';
export { type ClickTarget, ClickSimulator } from './protocol';
export { type ClickMetrics, clickMetrics, clicksToReach, percentile } from './metrics';

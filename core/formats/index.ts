/** Dataset formats: pure parse/serialise from/to plain records and masks (no file system; see electron/formats). */
export { FormatError, type FormatLimits, defaultLimits } from './errors';
export { type FormatLoss, LOSSES } from './losses';
export { type CocoExportOptions, cocoCategoryIds, parseCoco, readCoco, writeCoco } from './coco';
export { cocoPolygonsToRle } from './coco-polygon';
export { ringFromFile, ringToFile } from './coords';
export { type LabelmeExportOptions, parseLabelme, readLabelme, writeLabelme } from './labelme';
export { type VocExportOptions, parseImageSet, parseVocClassNames, parseVocImage, parseVocLabelmap, vocColormap, writeVocLabelmap, writeVocMasks } from './voc';
export { parseYoloDataYaml, parseYoloLabels, writeYoloDataYaml, writeYoloLabels } from './yolo';
export * from './types';

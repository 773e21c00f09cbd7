/**
 * The catalogue: public backbones a user exports on a connected machine with the committed exporter
 * (models/pwtrain/backbones.py) and then adds to the studio (Models view or `pixelwise models add <folder>`).
 * Nothing here downloads anything. Costs are measured on this machine on random-weight exports (speed and size
 * do not depend on the weights) by `npx tsx tests/bench/catalogue.ts`; quality numbers are the authors' published
 * ones and say where they come from.
 */
import type { CatalogueEntry } from '../../core/api/models-contract';

const measuredBy = 'npx tsx tests/bench/catalogue.ts --threads 2 --runs 3 (640x480 image, onnxruntime-node CPU, int8 maps)';
const gpuNote = 'not measured here (no GPU)';

export const catalogue: CatalogueEntry[] = [
  {
    id: 'dinov2-vits14',
    name: 'DINOv2 ViT-S/14',
    licence: 'Apache-2.0',
    homepage: 'https://github.com/facebookresearch/dinov2',
    parameters: '21M (published)',
    export: { family: 'dinov2', variant: 'vits14', dim: 64 },
    commands: [
      'curl -LO https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth',
      'python3 -m models.pwtrain.backbones dinov2 --variant vits14 --weights dinov2_vits14_pretrain.pth --dim 64 --out dinov2-vits14',
    ],
    costs: null,
    gpu: gpuNote,
    quality: [
      { metric: 'ImageNet-1k linear probe top-1', value: '81.1%', source: 'DINOv2 README (facebookresearch/dinov2), published' },
      { metric: 'ADE20K linear segmentation mIoU', value: '44.3', source: 'DINOv2 README (facebookresearch/dinov2), published' },
    ],
  },
  {
    id: 'dinov2-vitb14',
    name: 'DINOv2 ViT-B/14',
    licence: 'Apache-2.0',
    homepage: 'https://github.com/facebookresearch/dinov2',
    parameters: '86M (published)',
    export: { family: 'dinov2', variant: 'vitb14', dim: 64 },
    commands: [
      'curl -LO https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth',
      'python3 -m models.pwtrain.backbones dinov2 --variant vitb14 --weights dinov2_vitb14_pretrain.pth --dim 64 --out dinov2-vitb14',
    ],
    costs: null,
    gpu: gpuNote,
    quality: [
      { metric: 'ImageNet-1k linear probe top-1', value: '84.5%', source: 'DINOv2 README (facebookresearch/dinov2), published' },
      { metric: 'ADE20K linear segmentation mIoU', value: '47.3', source: 'DINOv2 README (facebookresearch/dinov2), published' },
    ],
  },
  {
    id: 'sam-vit-b',
    name: 'SAM ViT-B image encoder',
    licence: 'Apache-2.0',
    homepage: 'https://github.com/facebookresearch/segment-anything',
    parameters: '91M (published, whole SAM ViT-B)',
    export: { family: 'sam', variant: 'vit_b', dim: 64 },
    commands: [
      'curl -LO https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
      'python3 -m models.pwtrain.backbones sam --variant vit_b --weights sam_vit_b_01ec64.pth --dim 64 --out sam-vit-b',
    ],
    costs: null,
    gpu: gpuNote,
    quality: [],
  },
];

export { measuredBy };

/**
 * Proposed contract additions for similar-object search and discovery, to be merged into contract.ts as
 *   search: searchContract.search, discovery: searchContract.discovery
 * Implemented by electron/search/service.ts. Coordinates are image pixels; "grid" masks are RLEs at a coarse
 * grid covering the whole image (size [gridHeight, gridWidth]) for overlays: scale them to the image to show.
 */
import { z } from 'zod';
import type { Rle } from '../rle';

import { method } from './method';

const id = z.number().int().positive();
const rle = z.object({
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  counts: z.string(),
});

/** A query example: a mask on an image (as drawn), or an existing annotation. */
export const searchExampleSchema = z.union([
  z.object({ imageId: id, rle }),
  z.object({ annotationId: id }),
]);

export const searchQuerySchema = z.object({
  /** Example objects; with classId they join the class's annotations (one of the two is needed). */
  examples: z.array(searchExampleSchema).max(50).optional(),
  /**
   * "Find more of this class": every annotated object of the class is an example (the newest 500), and hits
   * rejected in earlier searches for the class stay rejected.
   */
  classId: id.optional(),
  modelId: z.string().optional(),
  /** Hits returned. */
  limit: z.number().int().min(1).max(1000).default(50),
  /** Stage-1 candidates re-ranked on their full maps. */
  rerank: z.number().int().min(1).max(1000).default(100),
  /** Search only these images (default: all with regions for the model). */
  imageIds: z.array(id).max(1_000_000).optional(),
  /** Leave out the example images themselves (default false: other objects on them are valid hits). */
  excludeExampleImages: z.boolean().default(false),
}).refine((input) => (input.examples?.length ?? 0) > 0 || input.classId !== undefined, { message: 'give examples or a classId' });

export const searchFeedbackSchema = z.object({
  sessionId: z.string().min(1),
  /** Image ids of hits judged now; a later judgement of the same image replaces the earlier one. */
  accepted: z.array(id).max(1000).default([]),
  rejected: z.array(id).max(1000).default([]),
  limit: z.number().int().min(1).max(1000).optional(),
});

export const searchAcceptSchema = z.object({
  sessionId: z.string().min(1),
  classId: id.nullable(),
  /** Hits to turn into annotations; with minScore instead, every current hit scoring >= minScore that was not rejected. */
  imageIds: z.array(id).max(10_000).optional(),
  minScore: z.number().min(-1).max(1).optional(),
}).refine((input) => input.imageIds !== undefined || input.minScore !== undefined, { message: 'give imageIds or minScore' });

/** The mask an accept of this hit writes (its region as shown, fixed once judged): for the editor's proposal layer. */
export const searchHitMaskSchema = z.object({ sessionId: z.string().min(1), imageId: id });

export const discoveryRunSchema = z.object({
  imageIds: z.array(id).min(2).max(20_000),
  modelId: z.string().optional(),
  /** Clusters returned, best first. */
  top: z.number().int().min(1).max(50).default(5),
});

export const discoveryLabelSchema = z.object({
  discoveryId: z.string().min(1),
  cluster: z.number().int().min(0),
  classId: id.nullable(),
  /** Default: the cluster's covered images. */
  imageIds: z.array(id).max(20_000).optional(),
});

export interface SearchHit {
  imageId: number;
  /** The image's content hash, for its blob links (core/api/blobs.ts). */
  imageHash: string;
  /** Final score (cosine of the query with the hit's object, -1..1), higher is more similar. */
  score: number;
  /** Stage-1 score: cosine with the image's best region. */
  regionScore: number;
  /** Candidate object box and heatmap peak, image pixels. */
  bbox: [number, number, number, number];
  peak: [number, number];
  /**
   * The hit's region on the embedding map's grid (see the file comment): what accepting it writes, before that is
   * upsampled along the image's colour edges (search.hitMask gives the result). Fixed once the hit is judged.
   */
  grid: Rle;
  judgement: 'accepted' | 'rejected' | null;
}

export interface SearchResult {
  sessionId: string;
  modelId: string;
  hits: SearchHit[];
  stats: { images: number; regions: number; stage1Ms: number; stage2Ms: number };
}

export interface AcceptResult {
  /** Created annotations, one per accepted hit: annotations.remove({ ids }) undoes the whole batch. */
  annotationIds: number[];
  imageIds: number[];
  /** Images left alone: an object already there covers the mask (IoU >= 0.8), so it would be annotated twice. */
  alreadyLabelled: number[];
  /** Images left as they were, each with why in the labeler's words (a team project: another labeler holds it). */
  skipped?: Array<{ imageId: number; reason: string }>;
}

export interface HitMask {
  imageId: number;
  /** Image-sized mask, exactly what search.accept writes for this hit. */
  rle: Rle;
  score: number;
}

export interface DiscoveryMember {
  imageId: number;
  /** The image's content hash, for its blob links (core/api/blobs.ts). */
  imageHash: string;
  /** Cosine of the member's region with the cluster centre. */
  similarity: number;
  /** The region stands out in its image (counts towards coverage). */
  covered: boolean;
  bbox: [number, number, number, number];
  /** Region mask on the image's region grid (see the file comment). */
  grid: Rle;
}

export interface DiscoveryCluster {
  index: number;
  score: number;
  /** Images the cluster covers (one region per image at most). */
  coverage: number;
  members: DiscoveryMember[];
}

export interface DiscoveryResult {
  discoveryId: string;
  modelId: string;
  clusters: DiscoveryCluster[];
  /** Requested images without regions for the model (not embedded yet). */
  missing: number[];
}

export const searchContract = {
  search: {
    /** New search session from one or more example masks; ranked hits. */
    query: method<SearchResult>()(searchQuerySchema),
    /** Accept / reject hits: the query moves (Rocchio) and everything is re-ranked. */
    feedback: method<SearchResult>()(searchFeedbackSchema),
    /** Hits -> annotations of classId (source 'search'), in one transaction; also counts as accepting them. */
    accept: method<AcceptResult>()(searchAcceptSchema),
    /** The image-sized mask accepting a hit writes (what the editor shows as the proposal). */
    hitMask: method<HitMask>()(searchHitMaskSchema),
  },
  discovery: {
    /** The most frequent objects across the given images. */
    run: method<DiscoveryResult>()(discoveryRunSchema),
    /** A cluster's regions -> annotations of classId (source 'discovery'), in one transaction. */
    label: method<AcceptResult>()(discoveryLabelSchema),
  },
} as const;

export type SearchQueryInput = z.output<typeof searchQuerySchema>;
export type SearchFeedbackInput = z.output<typeof searchFeedbackSchema>;
export type SearchAcceptInput = z.output<typeof searchAcceptSchema>;
export type SearchHitMaskInput = z.output<typeof searchHitMaskSchema>;
export type DiscoveryRunInput = z.output<typeof discoveryRunSchema>;
export type DiscoveryLabelInput = z.output<typeof discoveryLabelSchema>;

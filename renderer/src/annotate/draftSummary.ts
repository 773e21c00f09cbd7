/** The object-being-built line: what it is made of so far (box, clicks, brush strokes), in the user's language. */
import type { DraftState } from './history';

type Translate = (key: string, params?: Record<string, string | number>) => string;

/** "Object being built: box, 2 clicks, 1 stroke"; clicks are named even when there are none yet. */
export function describeDraft(draft: DraftState, t: Translate): string {
  const parts: string[] = [];
  if (draft.box) parts.push(t('annotate.objects.draftParts.box'));
  if (draft.clicks.length || !draft.box) parts.push(t('annotate.objects.draftParts.clicks', { count: draft.clicks.length }));
  if (draft.strokes) parts.push(t('annotate.objects.draftParts.strokes', { count: draft.strokes }));
  return t('annotate.objects.draft', { parts: parts.join(', ') });
}

/**
 * For templates: whether the open project offers an action, and the tooltip that says why not (stores/project.ts
 * `capabilities`, team/capabilities.ts). `title(action, otherwise)` is the reason when the action is off, else `otherwise`.
 */
import type { ProjectAction } from '../team/capabilities';
import { useProjectStore } from '../stores/project';
import { useI18n } from '../i18n/index';

export function useCapabilities() {
  const project = useProjectStore();
  const { t } = useI18n();
  const can = (action: ProjectAction) => project.capabilities[action] === null;
  const title = (action: ProjectAction, otherwise = '') => {
    const why = project.capabilities[action];
    return why ? t(why) : otherwise;
  };
  return { can, title };
}

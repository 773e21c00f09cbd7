/** The shape of a message file (i18n/<lang>/<namespace>.ts); kept apart so message files import nothing else. */
export interface MessageTree {
  [key: string]: string | MessageTree;
}

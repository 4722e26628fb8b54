/** Comments written on the array (upstream's JSON, so tools that read them keep working). */

export function volumeComment(id: string, displayName: string): string {
  return JSON.stringify({ volume_id: id, name: id, type: 'Docker', display_name: displayName });
}

/** The parent's fields the comment names (a VolumeRecord has them). */
interface CommentParent {
  '3par_vol_name': string;
  id: string;
  display_name: string;
}

export function snapshotComment(parent: CommentParent, displayName: string): string {
  return JSON.stringify({
    volume_name: parent['3par_vol_name'],
    volume_id: parent.id,
    display_name: displayName,
    description: `snapshot of volume ${parent.display_name}`,
  });
}

/**
 * The placeholder strings the source's scraper wrote where it found no data (DESIGN 6). Cleaning
 * turns exactly these strings, in exactly these columns, into null.
 */

export const USER_INFO_ERROR = 'User Info Error';
export const IMAGE_SRC_ERROR = 'Image src error.';
export const NO_TITLE = 'No Title Data Available';
export const NO_DESCRIPTION = 'No description available';
export const NO_DESCRIPTION_STORY = 'No description available Story format';
export const UNTITLED = 'Untitled';
export const NO_TAGS = 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e';
export const STORY_FORMAT = 'multi-video(story page format)';
export const SAVE_LOCATION_PREFIX = 'Local save in ';

/** Per pin column, the strings that mean "no value". */
export const PIN_PLACEHOLDERS = {
  title: [NO_TITLE],
  description: [NO_DESCRIPTION_STORY, NO_DESCRIPTION, UNTITLED],
  poster_name: [USER_INFO_ERROR],
  follower_count: [USER_INFO_ERROR],
  tag_list: [NO_TAGS],
  image_src: [IMAGE_SRC_ERROR],
} as const satisfies Record<string, readonly string[]>;

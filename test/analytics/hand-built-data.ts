/**
 * A small hand-built clean data set for the analytics, spread over two "partitions" (two Parquet
 * files per table; `pt` is the part holding the event). Its answers are worked out by hand in
 * run-analytics.test.ts.
 *
 * ind pt  | pin: category poster fc | geo: country timestamp       | user: name age date_joined
 *   1 1,2 | travel    Ann 1000    | Albania 2018-01-01T00:00:00Z | Ann A 18 2015-01-01T00:00:00Z
 *   2 1   | travel    Bob 2000    | Albania 2018-05-05T12:00:00Z | Bob B 24 2015-06-01T00:00:00Z
 *   3 1   | art       Cat null    | Albania 2019-03-03T00:00:00Z | Cat C 25 2016-02-02T00:00:00Z
 *   4 1   | art       Dan 500000  | Albania 2019-04-04T00:00:00Z | Dan D 35 2016-03-03T00:00:00Z
 *   5 1   | quotes    Eve 300     | Albania 2017-12-31T23:59:59Z | Eve E 36 2017-04-04T00:00:00Z
 *   6 1   | education Fay 500000  | Brazil  2020-01-01T00:00:00Z | Fay F 50 2017-05-05T00:00:00Z
 *   7 1   | education Gus 40      | Brazil  2020-02-02T00:00:00Z | Gus G 51 2018-06-06T00:00:00Z
 *   8 2   | beauty    Hal 20      | Brazil  2023-01-01T00:00:00Z | Hal H 17 2019-01-01T00:00:00Z
 *   9 2   | vehicles  Ivy 7000    | Chad    2022-12-31T23:59:59Z | Ivy I 60 2021-01-01T00:00:00Z
 *  10 2   | tattoos   Jon 7000    | Chad    2021-07-07T00:00:00Z | Jon J 51 2020-12-31T23:59:59Z
 *  11 1   | christmas Kim 9000000 | -                            | -
 *  12 2   | vehicles  Bob 3000    | Chad    2021-08-08T00:00:00Z | Bob B 24 2015-06-01T00:00:00Z
 *  13 2   | education Zed null    | Brazil  2018-09-09T00:00:00Z | Ann A 40 2019-09-09T00:00:00Z
 *  14 1   | -                     | -                            | Lee L 30 2016-07-07T00:00:00Z
 *  15 2   | vehicles  Max 900     | Chad    2017-06-06T00:00:00Z | Max M 51 2014-12-31T23:59:59Z
 *  16 2   | finance   Nia null    | Denmark 2019-05-05T00:00:00Z | -
 *
 * Why each is there: 1 is re-posted identically in part 2 (must count once); 3, 13 and 16 have a
 * null follower_count (16 is Denmark's only post); 11 is a pin without geo or user and 14 a user
 * without pin (inner joins drop them; 14 still joined in 2016); 12 is the same user as 2 (same
 * name and date_joined) and 13 another "Ann A" (other date_joined); ages sit on every boundary
 * (17, 18, 24, 25, 35, 36, 50, 51); post years 2017 and 2023 and join years 2014 and 2021 fall
 * outside the filters, each one second from the edge of the range.
 */

import type { CleanGeo, CleanPin, CleanUser } from '../../src/domain/cleaning';

export function pin(
  ind: number,
  category: string,
  posterName: string,
  followerCount: number | null,
): CleanPin {
  return {
    ind,
    unique_id: `00000000-0000-4000-8000-${String(ind).padStart(12, '0')}`,
    title: `Post ${ind}`,
    description: null,
    follower_count: followerCount,
    poster_name: posterName,
    tag_list: `${category},pins`,
    is_image_or_video: 'image',
    image_src: null,
    save_location: `/data/${category}`,
    category,
  };
}

export function geo(ind: number, country: string, timestamp: string): CleanGeo {
  return { ind, country, coordinates: [ind / 10, -ind / 10], timestamp };
}

export function user(ind: number, userName: string, age: number, dateJoined: string): CleanUser {
  return { ind, user_name: userName, age, date_joined: dateJoined };
}

const ann = user(1, 'Ann A', 18, '2015-01-01T00:00:00Z');
const annPin = pin(1, 'travel', 'Ann', 1000);
const annGeo = geo(1, 'Albania', '2018-01-01T00:00:00Z');

export const PART_1 = {
  pin: [
    annPin,
    pin(2, 'travel', 'Bob', 2000),
    pin(3, 'art', 'Cat', null),
    pin(4, 'art', 'Dan', 500000),
    pin(5, 'quotes', 'Eve', 300),
    pin(6, 'education', 'Fay', 500000),
    pin(7, 'education', 'Gus', 40),
    pin(11, 'christmas', 'Kim', 9000000),
  ],
  geo: [
    annGeo,
    geo(2, 'Albania', '2018-05-05T12:00:00Z'),
    geo(3, 'Albania', '2019-03-03T00:00:00Z'),
    geo(4, 'Albania', '2019-04-04T00:00:00Z'),
    geo(5, 'Albania', '2017-12-31T23:59:59Z'),
    geo(6, 'Brazil', '2020-01-01T00:00:00Z'),
    geo(7, 'Brazil', '2020-02-02T00:00:00Z'),
  ],
  user: [
    ann,
    user(2, 'Bob B', 24, '2015-06-01T00:00:00Z'),
    user(3, 'Cat C', 25, '2016-02-02T00:00:00Z'),
    user(4, 'Dan D', 35, '2016-03-03T00:00:00Z'),
    user(5, 'Eve E', 36, '2017-04-04T00:00:00Z'),
    user(6, 'Fay F', 50, '2017-05-05T00:00:00Z'),
    user(7, 'Gus G', 51, '2018-06-06T00:00:00Z'),
    user(14, 'Lee L', 30, '2016-07-07T00:00:00Z'),
  ],
};

export const PART_2 = {
  pin: [
    pin(8, 'beauty', 'Hal', 20),
    pin(9, 'vehicles', 'Ivy', 7000),
    pin(10, 'tattoos', 'Jon', 7000),
    { ...annPin }, // re-posted on another day: identical row, must count once
    pin(12, 'vehicles', 'Bob', 3000),
    pin(13, 'education', 'Zed', null),
    pin(15, 'vehicles', 'Max', 900),
    pin(16, 'finance', 'Nia', null),
  ],
  geo: [
    geo(8, 'Brazil', '2023-01-01T00:00:00Z'),
    geo(9, 'Chad', '2022-12-31T23:59:59Z'),
    geo(10, 'Chad', '2021-07-07T00:00:00Z'),
    { ...annGeo, coordinates: [...annGeo.coordinates] as [number, number] },
    geo(12, 'Chad', '2021-08-08T00:00:00Z'),
    geo(13, 'Brazil', '2018-09-09T00:00:00Z'),
    geo(15, 'Chad', '2017-06-06T00:00:00Z'),
    geo(16, 'Denmark', '2019-05-05T00:00:00Z'),
  ],
  user: [
    user(8, 'Hal H', 17, '2019-01-01T00:00:00Z'),
    user(9, 'Ivy I', 60, '2021-01-01T00:00:00Z'),
    user(10, 'Jon J', 51, '2020-12-31T23:59:59Z'),
    { ...ann },
    user(12, 'Bob B', 24, '2015-06-01T00:00:00Z'),
    user(13, 'Ann A', 40, '2019-09-09T00:00:00Z'),
    user(15, 'Max M', 51, '2014-12-31T23:59:59Z'),
  ],
};

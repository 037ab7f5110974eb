// stunnel's log line format: `YYYY.MM.DD HH:MM:SS LOG<level>[<id>]: <text>`, local time, 1 s
// resolution; text truncated to 1024 characters with non-printable characters replaced by '.'.

const MAX_TEXT_LENGTH = 1024;
const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

let cachedSecond = -1;
let cachedStamp = '';

/** The timestamp changes once a second; formatting it per line would dominate a busy log. */
export const formatTimestamp = (nowMs: number): string => {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    const date = new Date(second * 1000);
    cachedStamp = `${date.getFullYear()}.${pad(date.getMonth() + 1)}.${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    cachedSecond = second;
  }
  return cachedStamp;
};

export const sanitizeLogText = (text: string): string => {
  const trimmed = text.replace(/[\r\n]+$/, '');
  const short = trimmed.length > MAX_TEXT_LENGTH ? trimmed.slice(0, MAX_TEXT_LENGTH) : trimmed;
  // eslint-disable-next-line no-control-regex
  return short.replace(/[\x00-\x1f\x7f]/g, '.');
};

export const formatLogLine = (nowMs: number, level: number, id: string, text: string): string =>
  `${formatTimestamp(nowMs)} LOG${level}[${id}]: ${sanitizeLogText(text)}\n`;

/** Start-up failures go to stderr as `[c] text`: `*` 0-2, `!` 3, `:` 4, `.` 5, ` ` 6-7 (stunnel). */
export const formatStartupLine = (level: number, text: string): string => {
  const mark = level <= 2 ? '*' : level === 3 ? '!' : level === 4 ? ':' : level === 5 ? '.' : ' ';
  return `[${mark}] ${sanitizeLogText(text)}\n`;
};

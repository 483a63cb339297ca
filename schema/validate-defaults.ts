/**
 * `default = value`: checks a default against its field's kind and converts it to
 * the model's {@link DefaultValue}. Ints stay bigints so 64-bit values are exact;
 * timestamps are parsed as RFC 3339 and normalized to UTC.
 */

import type { EnumDecl, Literal } from "./ast.ts";
import {
  defaultMismatch,
  defaultOutOfRange,
  invalidTimestampDefault,
  unknownEnumDefault,
} from "./messages.ts";
import { type DefaultValue, INT64_MAX, INT64_MIN, type ScalarKind } from "./model.ts";
import { closestName } from "./suggest.ts";
import type { ValidationContext } from "./validate-context.ts";

/** The kinds that can have a default, with the enum's declaration for enums. */
export type DefaultKind =
  | { readonly kind: Exclude<ScalarKind, "bytes" | "json"> }
  | { readonly kind: "enum"; readonly decl: EnumDecl };

/** Checks `literal` as the default of a field of `kind` (written `typeText`); undefined when invalid. */
export function resolveDefault(
  kind: DefaultKind,
  typeText: string,
  literal: Literal,
  ctx: ValidationContext,
): DefaultValue | undefined {
  const mismatch = (expected: string, help?: string): undefined => {
    ctx.report(defaultMismatch(typeText, expected, describeLiteral(literal), literal.span, help));
    return undefined;
  };
  switch (kind.kind) {
    case "string":
      if (literal.kind === "StringLiteral") return { kind: "string", value: literal.value };
      return mismatch(
        "a string",
        literal.kind === "NameLiteral"
          ? `put the text in double quotes: "${literal.name}"`
          : undefined,
      );
    case "int":
      if (literal.kind !== "IntLiteral") return mismatch("an integer");
      if (literal.value < INT64_MIN || literal.value > INT64_MAX) {
        ctx.report(defaultOutOfRange(literal.value, "int", literal.span));
        return undefined;
      }
      return { kind: "int", value: literal.value };
    case "float": {
      if (literal.kind !== "IntLiteral" && literal.kind !== "FloatLiteral")
        return mismatch("a number");
      const value = literal.kind === "IntLiteral" ? Number(literal.value) : literal.value;
      if (!Number.isFinite(value)) {
        ctx.report(
          defaultOutOfRange(
            literal.kind === "IntLiteral" ? literal.value : literal.raw,
            "float",
            literal.span,
          ),
        );
        return undefined;
      }
      return { kind: "float", value };
    }
    case "bool":
      if (literal.kind === "BoolLiteral") return { kind: "bool", value: literal.value };
      return mismatch("true or false");
    case "timestamp": {
      if (literal.kind !== "StringLiteral") {
        return mismatch("a quoted RFC 3339 timestamp", 'write it like "2024-01-01T00:00:00Z"');
      }
      const parsed = parseTimestamp(literal.value);
      if (typeof parsed === "string") return { kind: "timestamp", value: parsed };
      ctx.report(
        invalidTimestampDefault(JSON.stringify(literal.value), parsed.error, literal.span),
      );
      return undefined;
    }
    case "enum":
      return resolveEnumDefault(kind.decl, typeText, literal, ctx, mismatch);
  }
}

function resolveEnumDefault(
  decl: EnumDecl,
  typeText: string,
  literal: Literal,
  ctx: ValidationContext,
  mismatch: (expected: string, help?: string) => undefined,
): DefaultValue | undefined {
  const values = decl.members.flatMap((m) => (m.kind === "EnumValueDecl" ? [m] : []));
  const expected = `a value name of enum '${typeText}'`;
  if (literal.kind === "StringLiteral") {
    const known = values.some((v) => v.name.name === literal.value);
    return mismatch(expected, known ? `write it without quotes: ${literal.value}` : undefined);
  }
  if (literal.kind === "IntLiteral") {
    const byNumber = values.find((v) => v.number.value === literal.value);
    return mismatch(
      expected,
      byNumber ? `write the value's name: ${byNumber.name.name}` : undefined,
    );
  }
  if (literal.kind !== "NameLiteral") return mismatch(expected);
  if (values.some((v) => v.name.name === literal.name))
    return { kind: "enum", value: literal.name };
  const broken = ctx.recovery.brokenMembers.get(decl);
  // The value may be one whose declaration did not parse; its syntax error is enough.
  if (broken !== undefined && (broken.has(literal.name) || broken.has(""))) return undefined;
  const suggestion = closestName(
    literal.name,
    values.map((v) => v.name.name),
  );
  ctx.report(unknownEnumDefault(literal.name, decl.name.name, literal.span, suggestion));
  return undefined;
}

function describeLiteral(literal: Literal): string {
  switch (literal.kind) {
    case "StringLiteral":
      return "a string";
    case "IntLiteral":
      return "an integer";
    case "FloatLiteral":
      return "a float";
    case "BoolLiteral":
      return `'${literal.value}'`;
    case "NameLiteral":
      return `the name '${literal.name}'`;
  }
}

// Fixed-width fields and no nested quantifiers: linear, no backtracking.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 timestamp into its normalized UTC form
 * (`2024-01-02T03:04:05Z`, fractional seconds kept without trailing zeros), or
 * says what is wrong with it.
 */
export function parseTimestamp(text: string): string | { readonly error: string } {
  const m = RFC3339.exec(text);
  if (m === null)
    return { error: "expected YYYY-MM-DDTHH:MM:SS, then 'Z' or an offset like +02:00" };
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(
    Number,
  ) as [number, number, number, number, number, number];
  const fraction = m[7] ?? "";
  if (month < 1 || month > 12) return { error: `month ${m[2]} does not exist` };
  if (day < 1 || day > daysInMonth(year, month))
    return { error: `day ${m[3]} does not exist in ${m[1]}-${m[2]}` };
  if (hour > 23) return { error: `hour ${m[4]} is out of range` };
  if (minute > 59) return { error: `minute ${m[5]} is out of range` };
  if (second === 60) return { error: "leap seconds are not supported" };
  if (second > 59) return { error: `second ${m[6]} is out of range` };
  if (fraction.length > 6)
    return { error: "timestamps have microsecond precision (at most 6 fractional digits)" };
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const offsetHour = Number(m[10]);
    const offsetMinute = Number(m[11]);
    if (offsetHour > 23 || offsetMinute > 59)
      return { error: `offset ${m[9]}${m[10]}:${m[11]} is out of range` };
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offsetHour * 60 + offsetMinute);
  }
  const seconds =
    daysFromCivil(year, month, day) * 86_400 +
    hour * 3600 +
    minute * 60 +
    second -
    offsetMinutes * 60;
  const days = Math.floor(seconds / 86_400);
  const rest = seconds - days * 86_400;
  const [y, mo, d] = civilFromDays(days);
  if (y < 0 || y > 9999) return { error: "the instant is outside the years 0000 to 9999 in UTC" };
  const trimmed = fraction.replace(/0+$/, "");
  return (
    `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(Math.floor(rest / 3600), 2)}:` +
    `${pad(Math.floor((rest % 3600) / 60), 2)}:${pad(rest % 60, 2)}${trimmed ? `.${trimmed}` : ""}Z`
  );
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The inverse of {@link daysFromCivil}. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

#!/usr/bin/env node
// oms-audit export bundle verifier. Usage: node verify.mjs (--public-key FILE | --fingerprint SHA256) BUNDLE_DIR
// Log stream deliveries: node verify.mjs stream (--public-key FILE | --fingerprint SHA256) DELIVERIES_DIR
// Generated from verifier/verify-bundle.ts and verifier/verify-stream.ts; no dependencies beyond Node.js 18+.

// verifier/verify-bundle.ts
import { createHash as createHash4, createPublicKey as createPublicKey2, verify as verifySignature } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

// node_modules/csv-parse/lib/index.js
import { Transform } from "stream";

// node_modules/csv-parse/lib/utils/is_object.js
var is_object = function(obj) {
  return typeof obj === "object" && obj !== null && !Array.isArray(obj);
};

// node_modules/csv-parse/lib/api/CsvError.js
var CsvError = class _CsvError extends Error {
  constructor(code, message, options, ...contexts) {
    if (Array.isArray(message)) message = message.join(" ").trim();
    super(message);
    if (Error.captureStackTrace !== void 0) {
      Error.captureStackTrace(this, _CsvError);
    }
    this.code = code;
    for (const context of contexts) {
      for (const key in context) {
        const value = context[key];
        this[key] = Buffer.isBuffer(value) ? value.toString(options.encoding) : value == null ? value : JSON.parse(JSON.stringify(value));
      }
    }
  }
};

// node_modules/csv-parse/lib/api/normalize_columns_array.js
var normalize_columns_array = function(columns2) {
  const normalizedColumns = [];
  for (let i = 0, l = columns2.length; i < l; i++) {
    const column = columns2[i];
    if (column === void 0 || column === null || column === false) {
      normalizedColumns[i] = { disabled: true };
    } else if (typeof column === "string" || typeof column === "number") {
      normalizedColumns[i] = { name: `${column}` };
    } else if (is_object(column)) {
      if (typeof column.name !== "string") {
        throw new CsvError("CSV_OPTION_COLUMNS_MISSING_NAME", [
          "Option columns missing name:",
          `property "name" is required at position ${i}`,
          "when column is an object literal"
        ]);
      }
      normalizedColumns[i] = column;
    } else {
      throw new CsvError("CSV_INVALID_COLUMN_DEFINITION", [
        "Invalid column definition:",
        "expect a string or a literal object,",
        `got ${JSON.stringify(column)} at position ${i}`
      ]);
    }
  }
  return normalizedColumns;
};

// node_modules/csv-parse/lib/utils/ResizeableBuffer.js
var ResizeableBuffer = class {
  constructor(size = 100) {
    this.size = size;
    this.length = 0;
    this.buf = Buffer.allocUnsafe(size);
  }
  prepend(val) {
    if (Buffer.isBuffer(val)) {
      const length = this.length + val.length;
      if (length >= this.size) {
        this.resize();
        if (length >= this.size) {
          throw Error("INVALID_BUFFER_STATE");
        }
      }
      const buf = this.buf;
      this.buf = Buffer.allocUnsafe(this.size);
      val.copy(this.buf, 0);
      buf.copy(this.buf, val.length);
      this.length += val.length;
    } else {
      const length = this.length++;
      if (length === this.size) {
        this.resize();
      }
      const buf = this.clone();
      this.buf[0] = val;
      buf.copy(this.buf, 1, 0, length);
    }
  }
  append(val) {
    const length = this.length++;
    if (length === this.size) {
      this.resize();
    }
    this.buf[length] = val;
  }
  clone() {
    return Buffer.from(this.buf.slice(0, this.length));
  }
  resize() {
    const length = this.length;
    this.size = this.size * 2;
    const buf = Buffer.allocUnsafe(this.size);
    this.buf.copy(buf, 0, 0, length);
    this.buf = buf;
  }
  toString(encoding) {
    if (encoding) {
      return this.buf.toString(encoding, 0, this.length);
    } else {
      return Uint8Array.prototype.slice.call(this.buf.slice(0, this.length));
    }
  }
  toJSON() {
    return this.toString("utf8");
  }
  reset() {
    this.length = 0;
  }
};
var ResizeableBuffer_default = ResizeableBuffer;

// node_modules/csv-parse/lib/api/init_state.js
var init_state = function(options) {
  const timchars = [
    // Basic Latin
    32,
    // [Space](https://www.fileformat.info/info/unicode/char/0020/index.htm)
    9,
    // [CHARACTER TABULATION (HT)](https://www.fileformat.info/info/unicode/char/0009/index.htm)
    10,
    // [LINE FEED (LF)](https://www.fileformat.info/info/unicode/char/000a/index.htm)
    13,
    // [CARRIAGE RETURN (CR)](https://www.fileformat.info/info/unicode/char/000d/index.htm)
    12,
    // [FORM FEED (FF)](https://www.fileformat.info/info/unicode/char/000c/index.htm)
    11,
    // [LINE TABULATION (VT)](https://www.fileformat.info/info/unicode/char/000b/index.htm)
    // Latin-1 Supplement
    160,
    // [NO-BREAK SPACE (NBSP)](https://www.fileformat.info/info/unicode/char/00a0/index.htm)
    // Ogham
    5760,
    // [OGHAM SPACE MARK](https://www.fileformat.info/info/unicode/char/1680/index.htm)
    // General Punctuation
    8192,
    // [EN QUAD](https://www.fileformat.info/info/unicode/char/2000/index.htm)
    8193,
    // [EM QUAD](https://www.fileformat.info/info/unicode/char/2001/index.htm)
    8194,
    // [EN SPACE](https://www.fileformat.info/info/unicode/char/2002/index.htm)
    8195,
    // [EM SPACE](https://www.fileformat.info/info/unicode/char/2003/index.htm)
    8196,
    // [THREE-PER-EM SPACE](https://www.fileformat.info/info/unicode/char/2004/index.htm)
    8197,
    // [FOUR-PER-EM SPACE](https://www.fileformat.info/info/unicode/char/2005/index.htm)
    8198,
    // [SIX-PER-EM SPACE](https://www.fileformat.info/info/unicode/char/2006/index.htm)
    8199,
    // [FIGURE SPACE](https://www.fileformat.info/info/unicode/char/2007/index.htm)
    8200,
    // [PUNCTUATION SPACE](https://www.fileformat.info/info/unicode/char/2008/index.htm)
    8201,
    // [THIN SPACE](https://www.fileformat.info/info/unicode/char/2009/index.htm)
    8202,
    // [HAIR SPACE](https://www.fileformat.info/info/unicode/char/200a/index.htm)
    8232,
    // [LINE SEPARATOR](https://www.fileformat.info/info/unicode/char/2028/index.htm)
    8233,
    // [PARAGRAPH SEPARATOR](https://www.fileformat.info/info/unicode/char/2029/index.htm)
    8239,
    // [NARROW NO-BREAK SPACE (NNBSP)](https://www.fileformat.info/info/unicode/char/202f/index.htm)
    8287,
    // [MEDIUM MATHEMATICAL SPACE (MMSP)](https://www.fileformat.info/info/unicode/char/205f/index.htm)
    12288,
    // [IDEOGRAPHIC SPACE](https://www.fileformat.info/info/unicode/char/3000/index.htm)
    65279
    // [ZERO WIDTH NO-BREAK SPACE (BOM)](https://www.fileformat.info/info/unicode/char/feff/index.htm)
  ].reduce((acc, codepoint) => {
    const encoded = Buffer.from(
      String.fromCharCode(codepoint),
      options.encoding
    );
    if (codepoint !== 63 && encoded.length === 1 && encoded[0] === 63) {
      return acc;
    }
    acc.push(encoded);
    return acc;
  }, []);
  const timcharFirstBytes = new Uint8Array(256);
  for (const t of timchars) timcharFirstBytes[t[0]] = 1;
  return {
    bomSkipped: false,
    bufBytesStart: 0,
    castField: options.cast_function,
    commenting: false,
    delimiterBufPrevious: void 0,
    delimiterDiscovered: false,
    // Current error encountered by a record
    error: void 0,
    enabled: options.from_line === 1,
    escaping: false,
    escapeIsQuote: Buffer.isBuffer(options.escape) && Buffer.isBuffer(options.quote) && Buffer.compare(options.escape, options.quote) === 0,
    // columns can be `false`, `true`, `Array`
    expectedRecordLength: Array.isArray(options.columns) ? options.columns.length : void 0,
    field: new ResizeableBuffer_default(20),
    firstLineToHeaders: options.cast_first_line_to_header,
    needMoreDataSize: Math.max(
      // Skip if the remaining buffer smaller than comment
      options.comment !== null ? options.comment.length : 0,
      ...options.delimiter ? options.delimiter.map((delimiter) => delimiter.length) : [],
      // Auto discovery of delimiter is limited to 1 character
      options.delimiter_auto ? 1 : 0,
      // Skip if the remaining buffer can be escape sequence
      options.quote !== null ? options.quote.length : 0,
      ...timchars.map((t) => t.length)
    ),
    previousBuf: void 0,
    quoting: false,
    stop: false,
    rawBuffer: new ResizeableBuffer_default(100),
    record: [],
    recordHasError: false,
    record_length: 0,
    recordDelimiterMaxLength: options.record_delimiter.length === 0 ? 0 : Math.max(...options.record_delimiter.map((v) => v.length)),
    trimChars: [
      Buffer.from(" ", options.encoding)[0],
      Buffer.from("	", options.encoding)[0]
    ],
    wasQuoting: false,
    wasRowDelimiter: false,
    timchars,
    timcharFirstBytes
  };
};

// node_modules/csv-parse/lib/utils/underscore.js
var underscore = function(str2) {
  return str2.replace(/([A-Z])/g, function(_, match) {
    return "_" + match.toLowerCase();
  });
};

// node_modules/csv-parse/lib/api/normalize_options.js
var normalize_options = function(opts) {
  const options = {};
  for (const opt in opts) {
    options[underscore(opt)] = opts[opt];
  }
  if (options.encoding === void 0 || options.encoding === true) {
    options.encoding = "utf8";
  } else if (options.encoding === null || options.encoding === false) {
    options.encoding = null;
  } else if (typeof options.encoding !== "string" && options.encoding !== null) {
    throw new CsvError(
      "CSV_INVALID_OPTION_ENCODING",
      [
        "Invalid option encoding:",
        "encoding must be a string or null to return a buffer,",
        `got ${JSON.stringify(options.encoding)}`
      ],
      options
    );
  }
  if (options.bom === void 0 || options.bom === null || options.bom === false) {
    options.bom = false;
  } else if (options.bom !== true) {
    throw new CsvError(
      "CSV_INVALID_OPTION_BOM",
      [
        "Invalid option bom:",
        "bom must be true,",
        `got ${JSON.stringify(options.bom)}`
      ],
      options
    );
  }
  options.cast_function = null;
  if (options.cast === void 0 || options.cast === null || options.cast === false || options.cast === "") {
    options.cast = void 0;
  } else if (typeof options.cast === "function") {
    options.cast_function = options.cast;
    options.cast = true;
  } else if (options.cast !== true) {
    throw new CsvError(
      "CSV_INVALID_OPTION_CAST",
      [
        "Invalid option cast:",
        "cast must be true or a function,",
        `got ${JSON.stringify(options.cast)}`
      ],
      options
    );
  }
  if (options.cast_date === void 0 || options.cast_date === null || options.cast_date === false || options.cast_date === "") {
    options.cast_date = false;
  } else if (options.cast_date === true) {
    options.cast_date = function(value) {
      const date = Date.parse(value);
      return !isNaN(date) ? new Date(date) : value;
    };
  } else if (typeof options.cast_date !== "function") {
    throw new CsvError(
      "CSV_INVALID_OPTION_CAST_DATE",
      [
        "Invalid option cast_date:",
        "cast_date must be true or a function,",
        `got ${JSON.stringify(options.cast_date)}`
      ],
      options
    );
  }
  options.cast_first_line_to_header = void 0;
  if (options.columns === true) {
    options.cast_first_line_to_header = void 0;
  } else if (typeof options.columns === "function") {
    options.cast_first_line_to_header = options.columns;
    options.columns = true;
  } else if (Array.isArray(options.columns)) {
    options.columns = normalize_columns_array(options.columns);
  } else if (options.columns === void 0 || options.columns === null || options.columns === false) {
    options.columns = false;
  } else {
    throw new CsvError(
      "CSV_INVALID_OPTION_COLUMNS",
      [
        "Invalid option columns:",
        "expect an array, a function or true,",
        `got ${JSON.stringify(options.columns)}`
      ],
      options
    );
  }
  if (options.group_columns_by_name === void 0 || options.group_columns_by_name === null || options.group_columns_by_name === false) {
    options.group_columns_by_name = false;
  } else if (options.group_columns_by_name !== true) {
    throw new CsvError(
      "CSV_INVALID_OPTION_GROUP_COLUMNS_BY_NAME",
      [
        "Invalid option group_columns_by_name:",
        "expect an boolean,",
        `got ${JSON.stringify(options.group_columns_by_name)}`
      ],
      options
    );
  } else if (options.columns === false) {
    throw new CsvError(
      "CSV_INVALID_OPTION_GROUP_COLUMNS_BY_NAME",
      [
        "Invalid option group_columns_by_name:",
        "the `columns` mode must be activated."
      ],
      options
    );
  }
  if (options.comment === void 0 || options.comment === null || options.comment === false || options.comment === "") {
    options.comment = null;
  } else {
    if (typeof options.comment === "string") {
      options.comment = Buffer.from(options.comment, options.encoding);
    }
    if (!Buffer.isBuffer(options.comment)) {
      throw new CsvError(
        "CSV_INVALID_OPTION_COMMENT",
        [
          "Invalid option comment:",
          "comment must be a buffer or a string,",
          `got ${JSON.stringify(options.comment)}`
        ],
        options
      );
    }
  }
  if (options.comment_no_infix === void 0 || options.comment_no_infix === null || options.comment_no_infix === false) {
    options.comment_no_infix = false;
  } else if (options.comment_no_infix !== true) {
    throw new CsvError(
      "CSV_INVALID_OPTION_COMMENT",
      [
        "Invalid option comment_no_infix:",
        "value must be a boolean,",
        `got ${JSON.stringify(options.comment_no_infix)}`
      ],
      options
    );
  }
  if (options.delimiter_auto === void 0 || options.delimiter_auto === null || options.delimiter_auto === false) {
    options.delimiter_auto = false;
  } else if (options.delimiter_auto === true) {
    options.delimiter_auto = {};
  } else if (!is_object(options.delimiter_auto)) {
    throw new CsvError(
      "CSV_INVALID_OPTION_DELIMITER_AUTO",
      [
        "Invalid option delimiter_auto:",
        "delimiter_auto must be a boolean or a configuration object,",
        `got ${JSON.stringify(options.delimiter_auto)}`
      ],
      options
    );
  }
  if (options.delimiter_auto) {
    if (options.delimiter_auto.preferred === void 0)
      options.delimiter_auto.preferred = {
        [",".charCodeAt(0)]: 1.8,
        ["	".charCodeAt(0)]: 1.8,
        [";".charCodeAt(0)]: 1.6,
        [" ".charCodeAt(0)]: 1.6,
        [":".charCodeAt(0)]: 1.5,
        [".".charCodeAt(0)]: 1.4,
        ["/".charCodeAt(0)]: 1.4
      };
    else if (!is_object(options.delimiter_auto.preferred)) {
      throw new CsvError(
        "CSV_INVALID_OPTION_DELIMITER_AUTO",
        [
          "Invalid option delimiter_auto:",
          "preferred must be an object,",
          `got ${JSON.stringify(options.delimiter_auto.preferred)}`
        ],
        options
      );
    }
    if (options.delimiter_auto.score === void 0)
      options.delimiter_auto.score = (info, options2) => {
        return (info.total - info.std) * (options2.preferred[info.char_code] || 1);
      };
    else if (typeof options.delimiter_auto.score !== "function") {
      throw new CsvError(
        "CSV_INVALID_OPTION_DELIMITER_AUTO",
        [
          "Invalid option delimiter_auto:",
          "score must be a function,",
          `got ${JSON.stringify(options.delimiter_auto.score)}`
        ],
        options
      );
    }
    if (options.delimiter_auto.size === void 0)
      options.delimiter_auto.size = 2048;
    else if (typeof options.delimiter_auto.size !== "number") {
      throw new CsvError(
        "CSV_INVALID_OPTION_DELIMITER_AUTO",
        [
          "Invalid option delimiter_auto:",
          "size must be a number,",
          `got ${JSON.stringify(options.delimiter_auto.size)}`
        ],
        options
      );
    }
  }
  const delimiter_json = JSON.stringify(options.delimiter);
  if (options.delimiter_auto !== false) {
    options.delimiter = [];
  }
  if (!Array.isArray(options.delimiter)) {
    if (options.delimiter === void 0 || options.delimiter === null || options.delimiter === false) {
      options.delimiter = Buffer.from(",", options.encoding);
    }
    options.delimiter = [options.delimiter];
  }
  options.delimiter = options.delimiter.map(function(delimiter) {
    if (typeof delimiter === "string") {
      delimiter = Buffer.from(delimiter, options.encoding);
    }
    if (!Buffer.isBuffer(delimiter) || delimiter.length === 0) {
      throw new CsvError(
        "CSV_INVALID_OPTION_DELIMITER",
        [
          "Invalid option delimiter:",
          "delimiter must be a non empty string or buffer or array of string|buffer,",
          `got ${delimiter_json}`
        ],
        options
      );
    }
    return delimiter;
  });
  if (options.escape === void 0 || options.escape === true) {
    options.escape = Buffer.from('"', options.encoding);
  } else if (typeof options.escape === "string") {
    options.escape = Buffer.from(options.escape, options.encoding);
  } else if (options.escape === null || options.escape === false) {
    options.escape = null;
  }
  if (options.escape !== null) {
    if (!Buffer.isBuffer(options.escape)) {
      throw new Error(
        `Invalid Option: escape must be a buffer, a string or a boolean, got ${JSON.stringify(options.escape)}`
      );
    }
  }
  if (options.from === void 0 || options.from === null) {
    options.from = 1;
  } else {
    if (typeof options.from === "string" && /\d+/.test(options.from)) {
      options.from = parseInt(options.from);
    }
    if (Number.isInteger(options.from)) {
      if (options.from < 0) {
        throw new Error(
          `Invalid Option: from must be a positive integer, got ${JSON.stringify(opts.from)}`
        );
      }
    } else {
      throw new Error(
        `Invalid Option: from must be an integer, got ${JSON.stringify(options.from)}`
      );
    }
  }
  if (options.from_line === void 0 || options.from_line === null) {
    options.from_line = 1;
  } else {
    if (typeof options.from_line === "string" && /\d+/.test(options.from_line)) {
      options.from_line = parseInt(options.from_line);
    }
    if (Number.isInteger(options.from_line)) {
      if (options.from_line <= 0) {
        throw new Error(
          `Invalid Option: from_line must be a positive integer greater than 0, got ${JSON.stringify(opts.from_line)}`
        );
      }
    } else {
      throw new Error(
        `Invalid Option: from_line must be an integer, got ${JSON.stringify(opts.from_line)}`
      );
    }
  }
  if (options.ignore_last_delimiters === void 0 || options.ignore_last_delimiters === null) {
    options.ignore_last_delimiters = false;
  } else if (typeof options.ignore_last_delimiters === "number") {
    options.ignore_last_delimiters = Math.floor(options.ignore_last_delimiters);
    if (options.ignore_last_delimiters === 0) {
      options.ignore_last_delimiters = false;
    }
  } else if (typeof options.ignore_last_delimiters !== "boolean") {
    throw new CsvError(
      "CSV_INVALID_OPTION_IGNORE_LAST_DELIMITERS",
      [
        "Invalid option `ignore_last_delimiters`:",
        "the value must be a boolean value or an integer,",
        `got ${JSON.stringify(options.ignore_last_delimiters)}`
      ],
      options
    );
  }
  if (options.ignore_last_delimiters === true && options.columns === false) {
    throw new CsvError(
      "CSV_IGNORE_LAST_DELIMITERS_REQUIRES_COLUMNS",
      [
        "The option `ignore_last_delimiters`",
        "requires the activation of the `columns` option"
      ],
      options
    );
  }
  if (options.info === void 0 || options.info === null || options.info === false) {
    options.info = false;
  } else if (options.info !== true) {
    throw new Error(
      `Invalid Option: info must be true, got ${JSON.stringify(options.info)}`
    );
  }
  if (options.max_record_size === void 0 || options.max_record_size === null || options.max_record_size === false) {
    options.max_record_size = 0;
  } else if (Number.isInteger(options.max_record_size) && options.max_record_size >= 0) {
  } else if (typeof options.max_record_size === "string" && /\d+/.test(options.max_record_size)) {
    options.max_record_size = parseInt(options.max_record_size);
  } else {
    throw new Error(
      `Invalid Option: max_record_size must be a positive integer, got ${JSON.stringify(options.max_record_size)}`
    );
  }
  if (options.objname === void 0 || options.objname === null || options.objname === false) {
    options.objname = void 0;
  } else if (Buffer.isBuffer(options.objname)) {
    if (options.objname.length === 0) {
      throw new Error(`Invalid Option: objname must be a non empty buffer`);
    }
    if (options.encoding === null) {
    } else {
      options.objname = options.objname.toString(options.encoding);
    }
  } else if (typeof options.objname === "string") {
    if (options.objname.length === 0) {
      throw new Error(`Invalid Option: objname must be a non empty string`);
    }
  } else if (typeof options.objname === "number") {
  } else {
    throw new Error(
      `Invalid Option: objname must be a string or a buffer, got ${options.objname}`
    );
  }
  if (options.objname !== void 0) {
    if (typeof options.objname === "number") {
      if (options.columns !== false) {
        throw Error(
          "Invalid Option: objname index cannot be combined with columns or be defined as a field"
        );
      }
    } else {
      if (options.columns === false) {
        throw Error(
          "Invalid Option: objname field must be combined with columns or be defined as an index"
        );
      }
    }
  }
  if (options.on_record === void 0 || options.on_record === null) {
    options.on_record = void 0;
  } else if (typeof options.on_record !== "function") {
    throw new CsvError(
      "CSV_INVALID_OPTION_ON_RECORD",
      [
        "Invalid option `on_record`:",
        "expect a function,",
        `got ${JSON.stringify(options.on_record)}`
      ],
      options
    );
  }
  if (options.on_skip !== void 0 && options.on_skip !== null && typeof options.on_skip !== "function") {
    throw new Error(
      `Invalid Option: on_skip must be a function, got ${JSON.stringify(options.on_skip)}`
    );
  }
  if (options.quote === null || options.quote === false || options.quote === "") {
    options.quote = null;
  } else {
    if (options.quote === void 0 || options.quote === true) {
      options.quote = Buffer.from('"', options.encoding);
    } else if (typeof options.quote === "string") {
      options.quote = Buffer.from(options.quote, options.encoding);
    }
    if (!Buffer.isBuffer(options.quote)) {
      throw new Error(
        `Invalid Option: quote must be a buffer or a string, got ${JSON.stringify(options.quote)}`
      );
    }
  }
  if (options.raw === void 0 || options.raw === null || options.raw === false) {
    options.raw = false;
  } else if (options.raw !== true) {
    throw new Error(
      `Invalid Option: raw must be true, got ${JSON.stringify(options.raw)}`
    );
  }
  if (options.record_delimiter === void 0) {
    options.record_delimiter = [];
  } else if (typeof options.record_delimiter === "string" || Buffer.isBuffer(options.record_delimiter)) {
    if (options.record_delimiter.length === 0) {
      throw new CsvError(
        "CSV_INVALID_OPTION_RECORD_DELIMITER",
        [
          "Invalid option `record_delimiter`:",
          "value must be a non empty string or buffer,",
          `got ${JSON.stringify(options.record_delimiter)}`
        ],
        options
      );
    }
    options.record_delimiter = [options.record_delimiter];
  } else if (!Array.isArray(options.record_delimiter)) {
    throw new CsvError(
      "CSV_INVALID_OPTION_RECORD_DELIMITER",
      [
        "Invalid option `record_delimiter`:",
        "value must be a string, a buffer or array of string|buffer,",
        `got ${JSON.stringify(options.record_delimiter)}`
      ],
      options
    );
  }
  options.record_delimiter = options.record_delimiter.map(function(rd, i) {
    if (typeof rd !== "string" && !Buffer.isBuffer(rd)) {
      throw new CsvError(
        "CSV_INVALID_OPTION_RECORD_DELIMITER",
        [
          "Invalid option `record_delimiter`:",
          "value must be a string, a buffer or array of string|buffer",
          `at index ${i},`,
          `got ${JSON.stringify(rd)}`
        ],
        options
      );
    } else if (rd.length === 0) {
      throw new CsvError(
        "CSV_INVALID_OPTION_RECORD_DELIMITER",
        [
          "Invalid option `record_delimiter`:",
          "value must be a non empty string or buffer",
          `at index ${i},`,
          `got ${JSON.stringify(rd)}`
        ],
        options
      );
    }
    if (typeof rd === "string") {
      rd = Buffer.from(rd, options.encoding);
    }
    return rd;
  });
  if (typeof options.relax_column_count === "boolean") {
  } else if (options.relax_column_count === void 0 || options.relax_column_count === null) {
    options.relax_column_count = false;
  } else {
    throw new Error(
      `Invalid Option: relax_column_count must be a boolean, got ${JSON.stringify(options.relax_column_count)}`
    );
  }
  if (typeof options.relax_column_count_less === "boolean") {
  } else if (options.relax_column_count_less === void 0 || options.relax_column_count_less === null) {
    options.relax_column_count_less = false;
  } else {
    throw new Error(
      `Invalid Option: relax_column_count_less must be a boolean, got ${JSON.stringify(options.relax_column_count_less)}`
    );
  }
  if (typeof options.relax_column_count_more === "boolean") {
  } else if (options.relax_column_count_more === void 0 || options.relax_column_count_more === null) {
    options.relax_column_count_more = false;
  } else {
    throw new Error(
      `Invalid Option: relax_column_count_more must be a boolean, got ${JSON.stringify(options.relax_column_count_more)}`
    );
  }
  if (typeof options.relax_quotes === "boolean") {
  } else if (options.relax_quotes === void 0 || options.relax_quotes === null) {
    options.relax_quotes = false;
  } else {
    throw new Error(
      `Invalid Option: relax_quotes must be a boolean, got ${JSON.stringify(options.relax_quotes)}`
    );
  }
  if (typeof options.skip_empty_lines === "boolean") {
  } else if (options.skip_empty_lines === void 0 || options.skip_empty_lines === null) {
    options.skip_empty_lines = false;
  } else {
    throw new Error(
      `Invalid Option: skip_empty_lines must be a boolean, got ${JSON.stringify(options.skip_empty_lines)}`
    );
  }
  if (typeof options.skip_records_with_empty_values === "boolean") {
  } else if (options.skip_records_with_empty_values === void 0 || options.skip_records_with_empty_values === null) {
    options.skip_records_with_empty_values = false;
  } else {
    throw new Error(
      `Invalid Option: skip_records_with_empty_values must be a boolean, got ${JSON.stringify(options.skip_records_with_empty_values)}`
    );
  }
  if (typeof options.skip_records_with_error === "boolean") {
  } else if (options.skip_records_with_error === void 0 || options.skip_records_with_error === null) {
    options.skip_records_with_error = false;
  } else {
    throw new Error(
      `Invalid Option: skip_records_with_error must be a boolean, got ${JSON.stringify(options.skip_records_with_error)}`
    );
  }
  if (options.rtrim === void 0 || options.rtrim === null || options.rtrim === false) {
    options.rtrim = false;
  } else if (options.rtrim !== true) {
    throw new Error(
      `Invalid Option: rtrim must be a boolean, got ${JSON.stringify(options.rtrim)}`
    );
  }
  if (options.ltrim === void 0 || options.ltrim === null || options.ltrim === false) {
    options.ltrim = false;
  } else if (options.ltrim !== true) {
    throw new Error(
      `Invalid Option: ltrim must be a boolean, got ${JSON.stringify(options.ltrim)}`
    );
  }
  if (options.trim === void 0 || options.trim === null || options.trim === false) {
    options.trim = false;
  } else if (options.trim !== true) {
    throw new Error(
      `Invalid Option: trim must be a boolean, got ${JSON.stringify(options.trim)}`
    );
  }
  if (options.trim === true && opts.ltrim !== false) {
    options.ltrim = true;
  } else if (options.ltrim !== true) {
    options.ltrim = false;
  }
  if (options.trim === true && opts.rtrim !== false) {
    options.rtrim = true;
  } else if (options.rtrim !== true) {
    options.rtrim = false;
  }
  if (options.to === void 0 || options.to === null) {
    options.to = -1;
  } else if (options.to !== -1) {
    if (typeof options.to === "string" && /\d+/.test(options.to)) {
      options.to = parseInt(options.to);
    }
    if (Number.isInteger(options.to)) {
      if (options.to <= 0) {
        throw new Error(
          `Invalid Option: to must be a positive integer greater than 0, got ${JSON.stringify(opts.to)}`
        );
      }
    } else {
      throw new Error(
        `Invalid Option: to must be an integer, got ${JSON.stringify(opts.to)}`
      );
    }
  }
  if (options.to_line === void 0 || options.to_line === null) {
    options.to_line = -1;
  } else if (options.to_line !== -1) {
    if (typeof options.to_line === "string" && /\d+/.test(options.to_line)) {
      options.to_line = parseInt(options.to_line);
    }
    if (Number.isInteger(options.to_line)) {
      if (options.to_line <= 0) {
        throw new Error(
          `Invalid Option: to_line must be a positive integer greater than 0, got ${JSON.stringify(opts.to_line)}`
        );
      }
    } else {
      throw new Error(
        `Invalid Option: to_line must be an integer, got ${JSON.stringify(opts.to_line)}`
      );
    }
  }
  return options;
};

// node_modules/csv-parse/lib/utils/delimiter_discover.js
var delimiter_discover = function(records, options) {
  if (!options) {
    ({ delimiter_auto: options } = normalize_options({ delimiter_auto: true }));
  }
  if (typeof records === "string") {
    records = Buffer.from(records);
  }
  if (Buffer.isBuffer(records)) {
    records = ((data) => {
      const records2 = [];
      const parser = transform({ delimiter: [] });
      const push = (record) => records2.push(record);
      const close = () => {
      };
      const error = parser.parse(data, true, push, close);
      if (error !== void 0) throw error;
      return records2;
    })(records);
  }
  const info = Array(127).fill().map(() => ({ lines: [] }));
  records.map(([record], line) => {
    for (let i = 0, l = record.length; i < l; i++) {
      const code = record.charCodeAt(i);
      if (info[code].lines[line] === void 0) info[code].lines[line] = 0;
      info[code].lines[line]++;
    }
  });
  info.map((info2, i) => {
    info2.char_code = i;
    info2.std = std(info2.lines);
    info2.total = info2.lines.reduce((acc, val) => acc + val, 0);
    info2.preferred = !!options.preferred[i];
    info2.score = options.score(info2, options);
  });
  const result = info.reduce(
    (acc, info2) => acc.score > info2.score ? acc : info2,
    {}
  );
  return String.fromCharCode(result.char_code);
};
var std = function(array) {
  const n = array.length;
  if (n === 0) return 0;
  const mean = array.reduce((a, b) => a + b) / n;
  return Math.sqrt(
    array.map((x) => Math.pow(x - mean, 2)).reduce((a, b) => a + b) / n
  );
};

// node_modules/csv-parse/lib/api/index.js
var isRecordEmpty = function(record) {
  return record.every(
    (field) => field == null || field.toString && field.toString().trim() === ""
  );
};
var cr = 13;
var nl = 10;
var boms = {
  // Note, the following are equals:
  // Buffer.from("\ufeff")
  // Buffer.from([239, 187, 191])
  // Buffer.from('EFBBBF', 'hex')
  utf8: Buffer.from([239, 187, 191]),
  // Note, the following are equals:
  // Buffer.from "\ufeff", 'utf16le
  // Buffer.from([255, 254])
  utf16le: Buffer.from([255, 254])
};
var transform = function(original_options = {}) {
  const info = {
    bytes: 0,
    bytes_records: 0,
    comment_lines: 0,
    empty_lines: 0,
    invalid_field_length: 0,
    lines: 1,
    records: 0
  };
  const options = normalize_options(original_options);
  return {
    info,
    original_options,
    options,
    state: init_state(options),
    __needMoreData: function(i, bufLen, end) {
      if (end) return false;
      const { encoding, escape, quote } = this.options;
      const { quoting, needMoreDataSize, recordDelimiterMaxLength } = this.state;
      const numOfCharLeft = bufLen - i - 1;
      const requiredLength = Math.max(
        needMoreDataSize,
        // Skip if the remaining buffer smaller than record delimiter
        // If "record_delimiter" is yet to be discovered:
        // 1. It is equals to `[]` and "recordDelimiterMaxLength" equals `0`
        // 2. We set the length to windows line ending in the current encoding
        // Note, that encoding is known from user or bom discovery at that point
        // recordDelimiterMaxLength,
        recordDelimiterMaxLength === 0 ? Buffer.from("\r\n", encoding).length : recordDelimiterMaxLength,
        // Skip if remaining buffer can be an escaped quote
        quoting ? (escape === null ? 0 : escape.length) + quote.length : 0,
        // Skip if remaining buffer can be record delimiter following the closing quote
        quoting ? quote.length + recordDelimiterMaxLength : 0
      );
      return numOfCharLeft < requiredLength;
    },
    // Central parser implementation
    parse: function(nextBuf, end, push, close) {
      const {
        bom,
        comment_no_infix,
        delimiter_auto,
        encoding,
        from_line,
        ltrim,
        max_record_size,
        raw,
        relax_quotes,
        rtrim,
        skip_empty_lines,
        to,
        to_line
      } = this.options;
      let { comment, escape, quote, record_delimiter } = this.options;
      const {
        bomSkipped,
        delimiterDiscovered,
        delimiterBufPrevious,
        rawBuffer,
        escapeIsQuote
      } = this.state;
      if (!delimiterDiscovered && delimiter_auto) {
        let delimiterBuf;
        if (delimiterBufPrevious === void 0) {
          delimiterBuf = nextBuf;
        } else if (delimiterBufPrevious !== void 0 && nextBuf === void 0) {
          delimiterBuf = delimiterBufPrevious;
        } else {
          delimiterBuf = Buffer.concat([delimiterBufPrevious, nextBuf]);
        }
        nextBuf = void 0;
        if (end || delimiterBuf.length > delimiter_auto.size) {
          this.options.delimiter = [
            Buffer.from(
              delimiter_discover(delimiterBuf, this.options.delimiter_auto)
            )
          ];
          this.state.previousBuf = delimiterBuf;
          this.state.delimiterBufPrevious = void 0;
          this.state.delimiterDiscovered = true;
        } else {
          this.state.delimiterBufPrevious = delimiterBuf;
          return;
        }
      }
      const { previousBuf } = this.state;
      let buf;
      if (previousBuf === void 0) {
        if (nextBuf === void 0) {
          close();
          return;
        } else {
          buf = nextBuf;
        }
      } else if (previousBuf !== void 0 && nextBuf === void 0) {
        buf = previousBuf;
      } else {
        buf = Buffer.concat([previousBuf, nextBuf]);
      }
      if (bomSkipped === false) {
        if (bom === false) {
          this.state.bomSkipped = true;
        } else if (buf.length < 3) {
          if (end === false) {
            this.state.previousBuf = buf;
            return;
          }
        } else {
          for (const encoding2 in boms) {
            if (boms[encoding2].compare(buf, 0, boms[encoding2].length) === 0) {
              const bomLength = boms[encoding2].length;
              this.state.bufBytesStart += bomLength;
              buf = buf.slice(bomLength);
              const options2 = normalize_options({
                ...this.original_options,
                encoding: encoding2
              });
              for (const key in options2) {
                this.options[key] = options2[key];
              }
              ({ comment, escape, quote } = this.options);
              break;
            }
          }
          this.state.bomSkipped = true;
        }
      }
      const bufLen = buf.length;
      let pos;
      for (pos = 0; pos < bufLen; pos++) {
        if (this.__needMoreData(pos, bufLen, end)) {
          break;
        }
        if (this.state.wasRowDelimiter === true) {
          this.info.lines++;
          this.state.wasRowDelimiter = false;
        }
        if (to_line !== -1 && this.info.lines > to_line) {
          this.state.stop = true;
          close();
          return;
        }
        if (this.state.quoting === false && record_delimiter.length === 0) {
          const record_delimiterCount = this.__autoDiscoverRecordDelimiter(
            buf,
            pos
          );
          if (record_delimiterCount) {
            record_delimiter = this.options.record_delimiter;
          }
        }
        const chr = buf[pos];
        if (raw === true) {
          rawBuffer.append(chr);
        }
        if ((chr === cr || chr === nl) && this.state.wasRowDelimiter === false) {
          this.state.wasRowDelimiter = true;
        }
        if (this.state.escaping === true) {
          this.state.escaping = false;
        } else {
          if (escape !== null && this.state.quoting === true && this.__isEscape(buf, pos, chr) && pos + escape.length < bufLen) {
            if (escapeIsQuote) {
              if (this.__isQuote(buf, pos + escape.length)) {
                this.state.escaping = true;
                pos += escape.length - 1;
                continue;
              }
            } else {
              this.state.escaping = true;
              pos += escape.length - 1;
              continue;
            }
          }
          if (this.state.commenting === false && this.__isQuote(buf, pos)) {
            if (this.state.quoting === true) {
              const nextChr = buf[pos + quote.length];
              const isNextChrTrimable = rtrim && this.__isCharTrimable(buf, pos + quote.length);
              const isNextChrComment = comment !== null && this.__compareBytes(comment, buf, pos + quote.length, nextChr);
              const isNextChrDelimiter = this.__isDelimiter(
                buf,
                pos + quote.length,
                nextChr
              );
              const isNextChrRecordDelimiter = record_delimiter.length === 0 ? this.__autoDiscoverRecordDelimiter(buf, pos + quote.length) : this.__isRecordDelimiter(nextChr, buf, pos + quote.length);
              if (escape !== null && this.__isEscape(buf, pos, chr) && this.__isQuote(buf, pos + escape.length)) {
                pos += escape.length - 1;
              } else if (!nextChr || isNextChrDelimiter || isNextChrRecordDelimiter || isNextChrComment || isNextChrTrimable) {
                this.state.quoting = false;
                this.state.wasQuoting = true;
                pos += quote.length - 1;
                continue;
              } else if (relax_quotes === false) {
                const err = this.__error(
                  new CsvError(
                    "CSV_INVALID_CLOSING_QUOTE",
                    [
                      "Invalid Closing Quote:",
                      `got "${String.fromCharCode(nextChr)}"`,
                      `at line ${this.info.lines}`,
                      "instead of delimiter, record delimiter, trimable character",
                      "(if activated) or comment"
                    ],
                    this.options,
                    this.__infoField()
                  )
                );
                if (err !== void 0) return err;
              } else {
                this.state.quoting = false;
                this.state.wasQuoting = true;
                this.state.field.prepend(quote);
                pos += quote.length - 1;
              }
            } else {
              if (this.state.field.length !== 0) {
                if (relax_quotes === false) {
                  const info2 = this.__infoField();
                  const bom2 = Object.keys(boms).map(
                    (b) => boms[b].equals(this.state.field.toString()) ? b : false
                  ).filter(Boolean)[0];
                  const err = this.__error(
                    new CsvError(
                      "INVALID_OPENING_QUOTE",
                      [
                        "Invalid Opening Quote:",
                        `a quote is found on field ${JSON.stringify(info2.column)} at line ${info2.lines}, value is ${JSON.stringify(this.state.field.toString(encoding))}`,
                        bom2 ? `(${bom2} bom)` : void 0
                      ],
                      this.options,
                      info2,
                      {
                        field: this.state.field
                      }
                    )
                  );
                  if (err !== void 0) return err;
                }
              } else {
                this.state.quoting = true;
                pos += quote.length - 1;
                continue;
              }
            }
          }
          if (this.state.quoting === false) {
            const recordDelimiterLength = this.__isRecordDelimiter(
              chr,
              buf,
              pos
            );
            if (recordDelimiterLength !== 0) {
              const skipCommentLine = this.state.commenting && this.state.wasQuoting === false && this.state.record.length === 0 && this.state.field.length === 0;
              if (skipCommentLine) {
                this.info.comment_lines++;
              } else {
                if (this.state.enabled === false && this.info.lines + (this.state.wasRowDelimiter === true ? 1 : 0) >= from_line) {
                  this.state.enabled = true;
                  this.__resetField();
                  this.__resetRecord();
                  pos += recordDelimiterLength - 1;
                  continue;
                }
                if (skip_empty_lines === true && this.state.wasQuoting === false && this.state.record.length === 0 && this.state.field.length === 0) {
                  this.info.empty_lines++;
                  pos += recordDelimiterLength - 1;
                  continue;
                }
                this.info.bytes = this.state.bufBytesStart + pos;
                const errField = this.__onField();
                if (errField !== void 0) return errField;
                this.info.bytes = this.state.bufBytesStart + pos + recordDelimiterLength;
                const errRecord = this.__onRecord(push);
                if (errRecord !== void 0) return errRecord;
                if (to !== -1 && this.info.records >= to) {
                  this.state.stop = true;
                  close();
                  return;
                }
              }
              this.state.commenting = false;
              pos += recordDelimiterLength - 1;
              continue;
            }
            if (this.state.commenting) {
              continue;
            }
            if (comment !== null && (comment_no_infix === false || this.state.record.length === 0 && this.state.field.length === 0)) {
              const commentCount = this.__compareBytes(comment, buf, pos, chr);
              if (commentCount !== 0) {
                this.state.commenting = true;
                continue;
              }
            }
            const delimiterLength = this.__isDelimiter(buf, pos, chr);
            if (delimiterLength !== 0) {
              this.info.bytes = this.state.bufBytesStart + pos;
              const errField = this.__onField();
              if (errField !== void 0) return errField;
              pos += delimiterLength - 1;
              continue;
            }
          }
        }
        if (this.state.commenting === false) {
          if (max_record_size !== 0 && this.state.record_length + this.state.field.length > max_record_size) {
            return this.__error(
              new CsvError(
                "CSV_MAX_RECORD_SIZE",
                [
                  "Max Record Size:",
                  "record exceed the maximum number of tolerated bytes",
                  `of ${max_record_size}`,
                  `at line ${this.info.lines}`
                ],
                this.options,
                this.__infoField()
              )
            );
          }
        }
        const lappend = ltrim === false || this.state.quoting === true || this.state.field.length !== 0 || !this.__isCharTrimable(buf, pos);
        const rappend = rtrim === false || this.state.wasQuoting === false;
        if (lappend === true && rappend === true) {
          this.state.field.append(chr);
        } else if (rtrim === true && !this.__isCharTrimable(buf, pos)) {
          return this.__error(
            new CsvError(
              "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE",
              [
                "Invalid Closing Quote:",
                "found non trimable byte after quote",
                `at line ${this.info.lines}`
              ],
              this.options,
              this.__infoField()
            )
          );
        } else {
          if (lappend === false) {
            pos += this.__isCharTrimable(buf, pos) - 1;
          }
          continue;
        }
      }
      if (end === true) {
        if (this.state.quoting === true) {
          const err = this.__error(
            new CsvError(
              "CSV_QUOTE_NOT_CLOSED",
              [
                "Quote Not Closed:",
                `the parsing is finished with an opening quote at line ${this.info.lines}`
              ],
              this.options,
              this.__infoField()
            )
          );
          if (err !== void 0) return err;
        } else {
          if (this.state.wasQuoting === true || this.state.record.length !== 0 || this.state.field.length !== 0) {
            this.info.bytes = this.state.bufBytesStart + pos;
            const errField = this.__onField();
            if (errField !== void 0) return errField;
            const errRecord = this.__onRecord(push);
            if (errRecord !== void 0) return errRecord;
          } else if (this.state.wasRowDelimiter === true) {
            this.info.empty_lines++;
          } else if (this.state.commenting === true) {
            this.info.comment_lines++;
          }
        }
      } else {
        this.state.bufBytesStart += pos;
        this.state.previousBuf = buf.slice(pos);
      }
      if (this.state.wasRowDelimiter === true) {
        this.info.lines++;
        this.state.wasRowDelimiter = false;
      }
    },
    __onRecord: function(push) {
      const {
        columns: columns2,
        group_columns_by_name,
        encoding,
        info: info2,
        from,
        relax_column_count,
        relax_column_count_less,
        relax_column_count_more,
        raw,
        skip_records_with_empty_values
      } = this.options;
      const { enabled, record } = this.state;
      if (enabled === false) {
        return this.__resetRecord();
      }
      const recordLength = record.length;
      if (columns2 === true) {
        if (skip_records_with_empty_values === true && isRecordEmpty(record)) {
          this.__resetRecord();
          return;
        }
        return this.__firstLineToColumns(record);
      }
      if (columns2 === false && this.info.records === 0) {
        this.state.expectedRecordLength = recordLength;
      }
      if (recordLength !== this.state.expectedRecordLength) {
        const err = columns2 === false ? new CsvError(
          "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH",
          [
            "Invalid Record Length:",
            `expect ${this.state.expectedRecordLength},`,
            `got ${recordLength} on line ${this.info.lines}`
          ],
          this.options,
          this.__infoField(),
          {
            record
          }
        ) : new CsvError(
          "CSV_RECORD_INCONSISTENT_COLUMNS",
          [
            "Invalid Record Length:",
            `columns length is ${columns2.length},`,
            // rename columns
            `got ${recordLength} on line ${this.info.lines}`
          ],
          this.options,
          this.__infoField(),
          {
            record
          }
        );
        if (relax_column_count === true || relax_column_count_less === true && recordLength < this.state.expectedRecordLength || relax_column_count_more === true && recordLength > this.state.expectedRecordLength) {
          this.info.invalid_field_length++;
          this.state.error = err;
        } else {
          const finalErr = this.__error(err);
          if (finalErr) return finalErr;
        }
      }
      if (skip_records_with_empty_values === true && isRecordEmpty(record)) {
        this.__resetRecord();
        return;
      }
      if (this.state.recordHasError === true) {
        this.__resetRecord();
        this.state.recordHasError = false;
        return;
      }
      this.info.records++;
      if (from === 1 || this.info.records >= from) {
        const { objname } = this.options;
        if (columns2 !== false) {
          const obj = {};
          for (let i = 0, l = record.length; i < l; i++) {
            if (columns2[i] === void 0 || columns2[i].disabled) continue;
            if (group_columns_by_name === true && Object.hasOwn(obj, columns2[i].name)) {
              if (Array.isArray(obj[columns2[i].name])) {
                obj[columns2[i].name] = obj[columns2[i].name].concat(record[i]);
              } else {
                obj[columns2[i].name] = [obj[columns2[i].name], record[i]];
              }
            } else {
              Object.defineProperty(obj, columns2[i].name, {
                value: record[i],
                enumerable: true,
                writable: true,
                configurable: true
              });
            }
          }
          if (raw === true || info2 === true) {
            const extRecord = Object.assign(
              { record: obj },
              raw === true ? { raw: this.state.rawBuffer.toString(encoding) } : {},
              info2 === true ? { info: this.__infoRecord() } : {}
            );
            const err = this.__push(
              objname === void 0 ? extRecord : [obj[objname], extRecord],
              push
            );
            if (err) {
              return err;
            }
          } else {
            const err = this.__push(
              objname === void 0 ? obj : [obj[objname], obj],
              push
            );
            if (err) {
              return err;
            }
          }
        } else {
          if (raw === true || info2 === true) {
            const extRecord = Object.assign(
              { record },
              raw === true ? { raw: this.state.rawBuffer.toString(encoding) } : {},
              info2 === true ? { info: this.__infoRecord() } : {}
            );
            const err = this.__push(
              objname === void 0 ? extRecord : [record[objname], extRecord],
              push
            );
            if (err) {
              return err;
            }
          } else {
            const err = this.__push(
              objname === void 0 ? record : [record[objname], record],
              push
            );
            if (err) {
              return err;
            }
          }
        }
      }
      this.__resetRecord();
    },
    __firstLineToColumns: function(record) {
      const { firstLineToHeaders } = this.state;
      try {
        const headers = firstLineToHeaders === void 0 ? record : firstLineToHeaders.call(null, record);
        if (!Array.isArray(headers)) {
          return this.__error(
            new CsvError(
              "CSV_INVALID_COLUMN_MAPPING",
              [
                "Invalid Column Mapping:",
                "expect an array from column function,",
                `got ${JSON.stringify(headers)}`
              ],
              this.options,
              this.__infoField(),
              {
                headers
              }
            )
          );
        }
        const normalizedHeaders = normalize_columns_array(headers);
        this.state.expectedRecordLength = normalizedHeaders.length;
        this.options.columns = normalizedHeaders;
        this.__resetRecord();
        return;
      } catch (err) {
        return err;
      }
    },
    __resetRecord: function() {
      if (this.options.raw === true) {
        this.state.rawBuffer.reset();
      }
      this.state.error = void 0;
      this.state.record = [];
      this.state.record_length = 0;
    },
    __onField: function() {
      const { cast, encoding, rtrim, max_record_size } = this.options;
      const { enabled, wasQuoting } = this.state;
      if (enabled === false) {
        return this.__resetField();
      }
      let field = this.state.field.toString(encoding);
      if (rtrim === true && wasQuoting === false) {
        field = field.trimRight();
      }
      if (cast === true) {
        const [err, f] = this.__cast(field);
        if (err !== void 0) return err;
        field = f;
      }
      this.state.record.push(field);
      if (max_record_size !== 0 && typeof field === "string") {
        this.state.record_length += field.length;
      }
      this.__resetField();
    },
    __resetField: function() {
      this.state.field.reset();
      this.state.wasQuoting = false;
    },
    __push: function(record, push) {
      const { on_record } = this.options;
      if (on_record !== void 0) {
        const info2 = this.__infoRecord();
        try {
          record = on_record.call(null, record, info2);
        } catch (err) {
          return err;
        }
        if (record === void 0 || record === null) {
          return;
        }
      }
      this.info.bytes_records += this.info.bytes;
      push(record);
    },
    // Return a tuple with the error and the casted value
    __cast: function(field) {
      const { columns: columns2, relax_column_count } = this.options;
      const isColumns = Array.isArray(columns2);
      if (isColumns === true && relax_column_count && this.options.columns.length <= this.state.record.length) {
        return [void 0, void 0];
      }
      if (this.state.castField !== null) {
        try {
          const info2 = this.__infoField();
          return [void 0, this.state.castField.call(null, field, info2)];
        } catch (err) {
          return [err];
        }
      }
      if (this.__isFloat(field)) {
        return [void 0, parseFloat(field)];
      } else if (this.options.cast_date !== false) {
        const info2 = this.__infoField();
        return [void 0, this.options.cast_date.call(null, field, info2)];
      }
      return [void 0, field];
    },
    __compareBytes: function(sourceBuf, targetBuf, targetPos, firstByte) {
      if (sourceBuf[0] !== firstByte) return 0;
      const sourceLength = sourceBuf.length;
      for (let i = 1; i < sourceLength; i++) {
        if (sourceBuf[i] !== targetBuf[targetPos + i]) return 0;
      }
      return sourceLength;
    },
    // Helper to test if a character is trimable
    __isCharTrimable: function(buf, pos) {
      const { timchars, timcharFirstBytes } = this.state;
      const first = buf[pos];
      if (first === void 0 || timcharFirstBytes[first] === 0) return 0;
      loop1: for (let i = 0; i < timchars.length; i++) {
        const timchar = timchars[i];
        for (let j = 0; j < timchar.length; j++) {
          if (timchar[j] !== buf[pos + j]) continue loop1;
        }
        return timchar.length;
      }
      return 0;
    },
    __isDelimiter: function(buf, pos, chr) {
      const { delimiter, ignore_last_delimiters } = this.options;
      if (ignore_last_delimiters === true && this.state.record.length === this.options.columns.length - 1) {
        return 0;
      } else if (ignore_last_delimiters !== false && typeof ignore_last_delimiters === "number" && this.state.record.length === ignore_last_delimiters - 1) {
        return 0;
      }
      loop1: for (let i = 0; i < delimiter.length; i++) {
        const del = delimiter[i];
        if (del[0] === chr) {
          for (let j = 1; j < del.length; j++) {
            if (del[j] !== buf[pos + j]) continue loop1;
          }
          return del.length;
        }
      }
      return 0;
    },
    __isEscape: function(buf, pos, chr) {
      const { escape } = this.options;
      if (escape === null) return false;
      const l = escape.length;
      if (escape[0] === chr) {
        for (let i = 0; i < l; i++) {
          if (escape[i] !== buf[pos + i]) {
            return false;
          }
        }
        return true;
      }
      return false;
    },
    __isFloat: function(value) {
      return value - parseFloat(value) + 1 >= 0;
    },
    // Keep it in case we implement the `cast_int` option
    // __isInt(value){
    //   // return Number.isInteger(parseInt(value))
    //   // return !isNaN( parseInt( obj ) );
    //   return /^(\-|\+)?[1-9][0-9]*$/.test(value)
    // }
    __isQuote: function(buf, pos) {
      const { quote } = this.options;
      if (quote === null) return false;
      const l = quote.length;
      for (let i = 0; i < l; i++) {
        if (quote[i] !== buf[pos + i]) {
          return false;
        }
      }
      return true;
    },
    __isRecordDelimiter: function(chr, buf, pos) {
      const { record_delimiter } = this.options;
      const recordDelimiterLength = record_delimiter.length;
      loop1: for (let i = 0; i < recordDelimiterLength; i++) {
        const rd = record_delimiter[i];
        const rdLength = rd.length;
        if (rd[0] !== chr) {
          continue;
        }
        for (let j = 1; j < rdLength; j++) {
          if (rd[j] !== buf[pos + j]) {
            continue loop1;
          }
        }
        return rd.length;
      }
      return 0;
    },
    __autoDiscoverRecordDelimiter: function(buf, pos) {
      const { encoding } = this.options;
      const rds = [
        // Important, the windows line ending must be before mac os 9
        Buffer.from("\r\n", encoding),
        Buffer.from("\n", encoding),
        Buffer.from("\r", encoding)
      ];
      loop: for (let i = 0; i < rds.length; i++) {
        const l = rds[i].length;
        for (let j = 0; j < l; j++) {
          if (rds[i][j] !== buf[pos + j]) {
            continue loop;
          }
        }
        this.options.record_delimiter.push(rds[i]);
        this.state.recordDelimiterMaxLength = rds[i].length;
        return rds[i].length;
      }
      return 0;
    },
    __error: function(msg) {
      const { encoding, raw, skip_records_with_error } = this.options;
      const err = typeof msg === "string" ? new Error(msg) : msg;
      if (skip_records_with_error) {
        this.state.recordHasError = true;
        if (this.options.on_skip !== void 0) {
          try {
            this.options.on_skip(
              err,
              raw ? this.state.rawBuffer.toString(encoding) : void 0
            );
          } catch (err2) {
            return err2;
          }
        }
        return void 0;
      } else {
        return err;
      }
    },
    __infoDataSet: function() {
      return {
        ...this.info,
        columns: this.options.columns
      };
    },
    __infoRecord: function() {
      const { columns: columns2, raw, encoding } = this.options;
      return {
        ...this.__infoDataSet(),
        bytes_records: this.info.bytes,
        error: this.state.error,
        header: columns2 === true,
        index: this.state.record.length,
        raw: raw ? this.state.rawBuffer.toString(encoding) : void 0
      };
    },
    __infoField: function() {
      const { columns: columns2 } = this.options;
      const isColumns = Array.isArray(columns2);
      const bytes_records = this.info.bytes_records;
      return {
        ...this.__infoRecord(),
        bytes_records,
        column: isColumns === true ? columns2.length > this.state.record.length ? columns2[this.state.record.length].name : null : this.state.record.length,
        quoting: this.state.wasQuoting
      };
    }
  };
};

// node_modules/csv-parse/lib/index.js
var Parser = class extends Transform {
  constructor(opts = {}) {
    super({ ...{ readableObjectMode: true }, ...opts, encoding: null });
    this.api = transform({
      on_skip: (err, chunk) => {
        this.emit("skip", err, chunk);
      },
      ...opts
    });
    this.state = this.api.state;
    this.options = this.api.options;
    this.info = this.api.info;
  }
  // Implementation of `Transform._transform`
  _transform(buf, _, callback) {
    if (this.state.stop === true) {
      return;
    }
    const err = this.api.parse(
      buf,
      false,
      (record) => {
        this.push(record);
      },
      () => {
        this.push(null);
        this.end();
        this.on("end", this.destroy);
      }
    );
    if (err !== void 0) {
      this.state.stop = true;
    }
    callback(err);
  }
  // Implementation of `Transform._flush`
  _flush(callback) {
    if (this.state.stop === true) {
      return;
    }
    const err = this.api.parse(
      void 0,
      true,
      (record) => {
        this.push(record);
      },
      () => {
        this.push(null);
        this.on("end", this.destroy);
      }
    );
    callback(err);
  }
};
var parse = function() {
  let data, options, callback;
  for (const i in arguments) {
    const argument = arguments[i];
    const type = typeof argument;
    if (data === void 0 && (typeof argument === "string" || Buffer.isBuffer(argument))) {
      data = argument;
    } else if (options === void 0 && is_object(argument)) {
      options = argument;
    } else if (callback === void 0 && type === "function") {
      callback = argument;
    } else {
      throw new CsvError(
        "CSV_INVALID_ARGUMENT",
        ["Invalid argument:", `got ${JSON.stringify(argument)} at index ${i}`],
        options || {}
      );
    }
  }
  const parser = new Parser(options);
  if (callback) {
    const records = options === void 0 || options.objname === void 0 ? [] : /* @__PURE__ */ Object.create(null);
    parser.on("readable", function() {
      let record;
      while ((record = this.read()) !== null) {
        if (options === void 0 || options.objname === void 0) {
          records.push(record);
        } else {
          Object.assign(records, {
            [record[0]]: record[1]
            // writable: true,
            // enumerable: true,
            // configurable: true
          });
        }
      }
    });
    parser.on("error", function(err) {
      callback(err, void 0, parser.api.__infoDataSet());
    });
    parser.on("end", function() {
      callback(void 0, records, parser.api.__infoDataSet());
    });
  }
  if (data !== void 0) {
    const writer = function() {
      parser.write(data);
      parser.end();
    };
    if (typeof setImmediate === "function") {
      setImmediate(writer);
    } else {
      setTimeout(writer, 0);
    }
  }
  return parser;
};

// supabase/functions/_shared/canonical-json.ts
var PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
var quoted = (s) => PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s);
var skipped = (item) => item === void 0 || typeof item === "function" || typeof item === "symbol";
function canonicalJson(value) {
  if (typeof value === "string") return quoted(value);
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error("JSON cannot hold NaN or Infinity");
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) {
    if (value.length > 8) {
      const items = new Array(value.length);
      for (let i = 0; i < value.length; i++) items[i] = skipped(value[i]) ? "null" : canonicalJson(value[i]);
      return "[" + items.join(",") + "]";
    }
    let out2 = "[";
    for (let i = 0; i < value.length; i++) out2 += (i ? "," : "") + (skipped(value[i]) ? "null" : canonicalJson(value[i]));
    return out2 + "]";
  }
  const record = value;
  const keys = Object.keys(record).sort();
  if (keys.length > 8) {
    const members = [];
    for (const key of keys) if (!skipped(record[key])) members.push(quoted(key) + ":" + canonicalJson(record[key]));
    return "{" + members.join(",") + "}";
  }
  let out = "{";
  for (const key of keys) {
    const item = record[key];
    if (skipped(item)) continue;
    out += (out.length > 1 ? "," : "") + quoted(key) + ":" + canonicalJson(item);
  }
  return out + "}";
}

// supabase/functions/_shared/checkpoint.ts
import { createHash, createPublicKey, verify } from "node:crypto";
var GENESIS_HASH = "0".repeat(64);
function checkpointBody(c) {
  return {
    version: c.version,
    tenant_id: c.tenant_id,
    number: c.number,
    seq_from: c.seq_from,
    seq_to: c.seq_to,
    count: c.count,
    merkle_root: c.merkle_root,
    prev_hash: c.prev_hash,
    sealed_at: c.sealed_at,
    key_id: c.key_id
  };
}
function checkpointBytes(c) {
  return Buffer.from(canonicalJson(checkpointBody(c)), "utf8");
}
function checkpointHash(c) {
  return createHash("sha256").update(checkpointBytes(c)).digest("hex");
}
function keyIdOf(publicKey) {
  return createHash("sha256").update(publicKey.export({ format: "der", type: "spki" })).digest("hex");
}

// supabase/functions/_shared/event-hash.ts
import * as crypto from "node:crypto";

// supabase/functions/_shared/ip.ts
var IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function ipv6Groups(input) {
  if (!input.includes(":") || /[^0-9a-fA-F:.]/.test(input)) return null;
  let host;
  try {
    host = new URL(`http://[${input}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head, tail] = host.includes("::") ? host.split("::") : [host, null];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const zeros = tail === null ? 0 : 8 - left.length - right.length;
  return [...left, ...Array(zeros).fill("0"), ...right].map((g) => parseInt(g, 16));
}
function postgresIpv6(words) {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (cur.base === -1) cur = { base: i, len: 1 };
      else cur.len++;
    } else if (cur.base !== -1) {
      if (best.base === -1 || cur.len > best.len) best = cur;
      cur = { base: -1, len: 0 };
    }
  }
  if (cur.base !== -1 && (best.base === -1 || cur.len > best.len)) best = cur;
  if (best.base !== -1 && best.len < 2) best = { base: -1, len: 0 };
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    if (i === 6 && best.base === 0 && (best.len === 6 || best.len === 5 && words[5] === 65535)) {
      out += `${words[6] >> 8}.${words[6] & 255}.${words[7] >> 8}.${words[7] & 255}`;
      return out;
    }
    out += words[i].toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ":";
  return out;
}
function canonicalIp(input) {
  if (input.length === 0 || input.length > 64) return null;
  if (IPV4.test(input)) return input;
  const groups = ipv6Groups(input);
  return groups ? postgresIpv6(groups) : null;
}
function ipV1Form(input) {
  if (input.length === 0 || input.length > 64) return null;
  if (IPV4.test(input)) return input;
  if (!input.includes(":") || /[^0-9a-fA-F:.]/.test(input)) return null;
  try {
    return new URL(`http://[${input}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

// supabase/functions/_shared/event-hash.ts
function isHashVersion(version) {
  return version === 1 || version === 2 || version === 3;
}
var PLAIN2 = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
var str = (v) => v === null || v === void 0 ? "null" : PLAIN2.test(v) ? '"' + v + '"' : JSON.stringify(v);
var ipV1 = (v) => v === null ? "null" : str(ipV1Form(v) ?? v);
var ipV2 = (v) => v === null ? "null" : str(canonicalIp(v) ?? v);
function canonicalEventJson(e, contextJson, personalJson) {
  const version = e.schema_version;
  if (!isHashVersion(version)) throw new RangeError(`unknown event schema version ${String(version)}`);
  const ip = version === 1 ? ipV1 : ipV2;
  return '{"actor_id":' + str(e.actor_id) + ',"actor_type":' + str(e.actor_type) + ',"context":' + (contextJson ?? canonicalJson(e.context ?? {})) + ',"device_fingerprint":' + str(e.device_fingerprint) + ',"event_type":' + str(e.event_type) + ',"id":' + str(e.id) + ',"ip_address":' + ip(e.ip_address) + ',"object_id":' + str(e.object_id) + ',"object_type":' + str(e.object_type) + ',"observed_ip":' + ip(e.observed_ip) + ',"observed_user_agent":' + str(e.observed_user_agent) + ',"occurred_at":' + str(e.occurred_at) + ',"outcome":' + str(e.outcome) + // Before version 3 events have no personal object: one that shows one gets a hash no genuine event has.
  (version === 3 || e.personal != null ? ',"personal":' + (e.personal == null ? "null" : personalJson ?? canonicalJson(e.personal)) : "") + ',"received_at":' + str(e.received_at) + ',"request_id":' + str(e.request_id) + ',"schema_version":' + String(version) + ',"source":' + str(e.source) + ',"tenant_id":' + str(e.tenant_id) + ',"user_agent":' + str(e.user_agent) + // Version 1 events have no written_by: one that shows one gets a hash no genuine version 1 event has.
  (version === 1 && (e.written_by ?? null) === null ? "}" : ',"written_by":' + str(e.written_by) + "}");
}
var LEAF_PREFIX = "\0";
var oneShot = crypto.hash;
var sha256Hex = oneShot ? (data) => oneShot("sha256", data, "hex") : (data) => crypto.createHash("sha256").update(data, "utf8").digest("hex");
function eventHash(e, contextJson, personalJson) {
  return sha256Hex(LEAF_PREFIX + canonicalEventJson(e, contextJson, personalJson));
}

// supabase/functions/_shared/merkle.ts
import * as crypto2 from "node:crypto";
var oneShot2 = crypto2.hash;
function sha256(...parts) {
  if (oneShot2) return oneShot2("sha256", parts.length === 1 ? parts[0] : Buffer.concat(parts), "buffer");
  const h = crypto2.createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}
var nodeInput = Buffer.alloc(65, 1);
function nodeHash(left, right) {
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return sha256(nodeInput);
}
function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  let level = leaves;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
    level = next;
  }
  return level[0];
}
function rootFromProof(leaf, index, treeSize, path4) {
  if (index < 0 || index >= treeSize) return null;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path4) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}
var toHex = (bytes) => Buffer.from(bytes).toString("hex");
var fromHex = (hex) => new Uint8Array(Buffer.from(hex, "hex"));

// supabase/functions/_shared/fields.ts
var EVENT_FIELDS = [
  "id",
  "tenant_id",
  "seq",
  "occurred_at",
  "received_at",
  "actor_type",
  "actor_id",
  "object_type",
  "object_id",
  "event_type",
  "outcome",
  "source",
  "request_id",
  "ip_address",
  "user_agent",
  "device_fingerprint",
  "observed_ip",
  "observed_user_agent",
  "context",
  "schema_version",
  /** The credential that wrote the event (schema version 2 on; null before). */
  "written_by",
  /** Schema version 3 on: the sealed IP addresses and subject id of the event (docs/integrity.md, "Personal data"); null before. */
  "personal"
];

// lib/export-formats.ts
var CELL_KINDS = { seq: "integer", schema_version: "integer", context: "json", personal: "json" };
function cellKind(field) {
  if (field === PERSONAL_OPENED_COLUMN) return "json";
  return CELL_KINDS[field] ?? "text";
}
var PERSONAL_OPENED_COLUMN = "personal_opened";
var NEVER_NEUTRALISED = ["id", "tenant_id", "occurred_at", "received_at", "outcome", "ip_address", "observed_ip", "clock_flag"];
var NEUTRALISING_MARK = "'";
function isNeutralised(field) {
  return cellKind(field) === "text" && !NEVER_NEUTRALISED.includes(field);
}
var CLOCK_FLAG_COLUMN = "clock_flag";
function epochMicros(time) {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/.exec(time);
  if (!match) throw new Error(`${time} is not a canonical UTC time`);
  return BigInt(Date.parse(`${match[1]}Z`)) * 1000n + BigInt(match[2]);
}
function clockFlagOf(occurredAt, receivedAt, limits) {
  const skew = epochMicros(receivedAt) - epochMicros(occurredAt);
  if (skew === 0n) return null;
  if (skew < -BigInt(limits.tolerance_ms) * 1000n) return "ahead";
  if (skew > BigInt(limits.tolerance_ms + limits.network_delay_ms) * 1000n) return "behind";
  return "within";
}
var columns = [...EVENT_FIELDS, CLOCK_FLAG_COLUMN];
var EXPORT_FORMATS = {
  csv: { id: "csv", label: "CSV", manifestFormat: "csv", excel: false, mediaType: "text/csv; charset=utf-8", fileSuffix: "", extension: "csv", columns, verifiable: true, framing: "csv", delimiter: ",", bom: false, recordEnd: "\r\n" },
  "csv-excel": { id: "csv-excel", label: "CSV for Excel", manifestFormat: "csv", excel: true, mediaType: "text/csv; charset=utf-8", fileSuffix: "-excel", extension: "csv", columns, verifiable: true, framing: "csv", delimiter: ";", bom: true, recordEnd: "\r\n" },
  jsonl: { id: "jsonl", label: "JSON Lines", manifestFormat: "jsonl", excel: false, mediaType: "application/x-ndjson; charset=utf-8", fileSuffix: "", extension: "jsonl", columns, verifiable: true, framing: "jsonl", recordEnd: "\n" },
  parquet: { id: "parquet", label: "Parquet", manifestFormat: "parquet", excel: false, mediaType: "application/vnd.apache.parquet", fileSuffix: "", extension: "parquet", columns, verifiable: false, framing: "parquet", compression: "zstd" }
};
var EXPORT_FORMAT_IDS = Object.keys(EXPORT_FORMATS);
function exportFormat(format, excel = false) {
  const spec = Object.values(EXPORT_FORMATS).find((f) => f.manifestFormat === format && f.excel === (format === "csv" && excel));
  if (!spec) throw new Error(`unknown export format ${format}${excel ? " (excel)" : ""}`);
  return spec;
}
function valueOfCsvCell(field, cell) {
  if (cell.text === "" && !cell.quoted) return null;
  const kind = cellKind(field);
  if (kind === "integer") {
    if (!/^-?\d+$/.test(cell.text)) throw new Error(`${field} is not an integer`);
    return Number(cell.text);
  }
  if (kind === "json") return JSON.parse(cell.text);
  return isNeutralised(field) && cell.text.startsWith(NEUTRALISING_MARK) ? cell.text.slice(NEUTRALISING_MARK.length) : cell.text;
}
function eventValues(spec, record, columns2 = spec.columns) {
  const out = {};
  for (const field of columns2) {
    const raw = record[field];
    if (spec.framing === "csv") out[field] = valueOfCsvCell(field, raw ?? { text: "", quoted: false });
    else out[field] = raw === void 0 ? null : raw;
  }
  return out;
}

// supabase/functions/_shared/personal-data.ts
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomFillSync } from "node:crypto";
var ENVELOPE_PREFIX = "pd2:";
var ERASED = "[erased]";
var SEALED_SCHEMA_VERSION = 3;
var ACTOR_PERSONAL_FIELDS = ["actor_id", "user_agent", "device_fingerprint", "observed_user_agent"];
var SEALED_MEMBER = "sealed";
var NONCE = 12;
var TAG = 16;
var REFERENCE = /^pd2:([0-9a-f]{64}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
function parseReference(value) {
  const m = REFERENCE.exec(value);
  return m ? { subjectRef: m[1], keyId: m[2] } : null;
}
function subjectRef(indexKey, subjectId) {
  return createHmac("sha256", indexKey).update("subject:" + subjectId, "utf8").digest("hex");
}
var associatedData = (tenantId, eventId, keyId) => Buffer.from(`oms-audit.personal:${tenantId}:${eventId}:${keyId}`, "utf8");
var noncePool = Buffer.alloc(NONCE * 4096);
var nonceAt = noncePool.length;
function openValues(sealed, key, tenantId, eventId, keyId) {
  const data = Buffer.from(sealed, "base64url");
  if (data.length < NONCE + TAG) throw new Error("seal too short");
  const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, NONCE));
  decipher.setAAD(associatedData(tenantId, eventId, keyId));
  decipher.setAuthTag(data.subarray(data.length - TAG));
  const text = Buffer.concat([decipher.update(data.subarray(NONCE, data.length - TAG)), decipher.final()]).toString("utf8");
  const values = JSON.parse(text);
  if (!values || typeof values !== "object" || Array.isArray(values)) throw new Error("a seal holds an object of values");
  return values;
}
function referencesOf(e) {
  const found = [];
  const take = (pointer, v) => {
    const reference = typeof v === "string" && v.length === 105 && v.startsWith(ENVELOPE_PREFIX) ? parseReference(v) : null;
    if (reference) found.push({ pointer, reference });
  };
  for (const f of ACTOR_PERSONAL_FIELDS) take("/" + f, e[f]);
  const personal = e.personal;
  if (personal && typeof personal === "object") {
    for (const [k, v] of Object.entries(personal)) if (k !== SEALED_MEMBER) take("/" + k, v);
  }
  const walk = (v, pointer) => {
    if (typeof v === "string") take(pointer, v);
    else if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, item] of Object.entries(v)) walk(item, pointer + "/" + k.replace(/~/g, "~0").replace(/\//g, "~1"));
    }
  };
  walk(e.context, "/context");
  return found;
}
function sealsOf(personal) {
  const sealed = personal && typeof personal === "object" ? personal[SEALED_MEMBER] : null;
  return sealed && typeof sealed === "object" && !Array.isArray(sealed) ? sealed : {};
}
var MASKED = "[personal]";
var changedSeal = (eventId, pointer) => new Error(`The sealed ${pointer.slice(1)} of event ${eventId} does not open with its subject's key: the event was changed`);
function openedPersonalData(e, tenantId, keyOf, masked = false, found = e.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(e) : []) {
  if (!found.length) return null;
  const seals = sealsOf(e.personal);
  const opened = /* @__PURE__ */ new Map();
  const values = {};
  const erased = [];
  for (const { pointer, reference } of found) {
    const key = keyOf(reference.keyId);
    if (!key) {
      values[pointer] = ERASED;
      erased.push(pointer);
      continue;
    }
    if (masked) {
      values[pointer] = MASKED;
      continue;
    }
    let sealed = opened.get(reference.keyId);
    if (!sealed) {
      const seal = seals[reference.keyId];
      if (typeof seal !== "string") throw changedSeal(e.id, pointer);
      try {
        sealed = openValues(seal, key, tenantId, e.id, reference.keyId);
      } catch {
        throw changedSeal(e.id, pointer);
      }
      opened.set(reference.keyId, sealed);
    }
    if (!Object.hasOwn(sealed, pointer)) throw changedSeal(e.id, pointer);
    values[pointer] = sealed[pointer];
  }
  return { values, erased, opened: [...new Set(found.filter((x) => opened.has(x.reference.keyId)).map((x) => x.reference.subjectRef))] };
}
var PERSONAL_OPENED_VERSION = 2;
function personalOpenedCell(data) {
  const erased = new Set(data.erased);
  const values = {};
  for (const [pointer, value] of Object.entries(data.values)) if (!erased.has(pointer)) values[pointer] = value;
  return { erased: data.erased, values };
}

// verifier/personal-opened.ts
var isObject = (v) => !!v && typeof v === "object" && !Array.isArray(v);
var PersonalOpenedCheck = class {
  constructor(tenantId, personal, subjectKeys = /* @__PURE__ */ new Map()) {
    this.tenantId = tenantId;
    this.subjectKeys = subjectKeys;
    this.mode = typeof personal?.mode === "string" ? personal.mode : "absent";
    this.version = personal?.column_version === void 0 ? 1 : personal.column_version;
    if (this.mode !== "opened" && this.mode !== "masked") {
      this.problems.push(`the file has a ${PERSONAL_OPENED_COLUMN} column, but the signed manifest's personal.mode is ${this.mode}, not opened or masked`);
      return;
    }
    if (this.version !== 1 && this.version !== PERSONAL_OPENED_VERSION) {
      this.problems.push(`the signed manifest's personal.column_version is ${String(personal?.column_version)}; this verifier reads versions 1 and ${PERSONAL_OPENED_VERSION}`);
      return;
    }
    if (Array.isArray(personal?.erased)) {
      const erased = personal.erased;
      this.listed = new Map(erased.map((e) => [e.seq, e.pointers]));
      const total = erased.reduce((n, e) => n + e.pointers.length, 0);
      if (total !== personal?.erased_fields) this.problems.push(`the manifest lists ${total} erased fields, but its erased_fields says ${String(personal?.erased_fields)}`);
    } else if (this.version === 1) {
      this.problems.push('the signed manifest has no list of erased fields: in a version 1 file nothing else tells an erased field from a value sent as "[erased]"');
    }
    this.expectedRows = typeof personal?.rows === "number" ? personal.rows : null;
  }
  tenantId;
  subjectKeys;
  /** The manifest's erased pointers by seq; null when the manifest has no list (version 2 rows then speak for themselves). */
  listed = null;
  mode;
  version;
  rows = 0;
  seenListed = 0;
  problems = [];
  /** The erased pointers the file shows, by seq (version 2: read from each row; version 1: the "[erased]" values). */
  erasedInFile = /* @__PURE__ */ new Map();
  expectedRows = null;
  /**
   * A row's shown values and erased pointers, as the file's version writes
   * them; a string naming what is wrong when the cell is not of that shape.
   */
  read(cell) {
    if (this.version === 1) {
      if (!isObject(cell)) return `${PERSONAL_OPENED_COLUMN} is not an object of the event's personal values`;
      return { shown: cell, erased: Object.keys(cell).filter((p) => cell[p] === ERASED) };
    }
    const keys = isObject(cell) ? Object.keys(cell).sort() : [];
    if (!isObject(cell) || canonicalJson(keys) !== canonicalJson(["erased", "values"]) || !isObject(cell.values) || !Array.isArray(cell.erased) || !cell.erased.every((p) => typeof p === "string")) {
      return `${PERSONAL_OPENED_COLUMN} is not an object {erased: [pointers], values: {pointer: value}} (column version 2)`;
    }
    const erased = cell.erased;
    if (new Set(erased).size !== erased.length) return `${PERSONAL_OPENED_COLUMN} lists a pointer as erased twice`;
    const overlap = erased.filter((p) => Object.hasOwn(cell.values, p));
    if (overlap.length) return `${PERSONAL_OPENED_COLUMN} shows a value at ${overlap.join(", ")} and lists it as erased`;
    return { shown: { ...cell.values, ...Object.fromEntries(erased.map((p) => [p, ERASED])) }, erased };
  }
  /** One row: its stored values (hashed elsewhere) and its personal_opened value. */
  check(row, values) {
    const seq = values.seq;
    const where = `row ${row} (seq ${seq})`;
    const opened = values[PERSONAL_OPENED_COLUMN];
    const refs = values.schema_version === SEALED_SCHEMA_VERSION ? referencesOf(values) : [];
    const listed = this.listed?.get(seq) ?? [];
    if (listed.length) this.seenListed++;
    if (!refs.length) {
      if (opened !== null) this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} holds values, but the stored event has no personal data`);
      if (listed.length) this.problems.push(`${where}: the manifest lists erased fields of an event without personal data`);
      return;
    }
    this.rows++;
    const read = this.read(opened);
    if (typeof read === "string") {
      this.problems.push(`${where}: ${read}`);
      return;
    }
    const { shown, erased } = read;
    const pointers = refs.map((r) => r.pointer);
    if (canonicalJson([...pointers].sort()) !== canonicalJson(Object.keys(shown).sort())) {
      this.problems.push(`${where}: ${PERSONAL_OPENED_COLUMN} names ${Object.keys(shown).join(", ") || "nothing"}, but the stored event has references at ${pointers.join(", ")}`);
      return;
    }
    if (this.version === PERSONAL_OPENED_VERSION) {
      if (erased.length) this.erasedInFile.set(seq, erased);
      const inOrder = pointers.filter((p) => erased.includes(p));
      if (canonicalJson(inOrder) !== canonicalJson(erased)) this.problems.push(`${where}: the erased pointers are not in the event's reference order`);
      if (this.listed) {
        for (const p of listed) if (!erased.includes(p)) this.problems.push(`${where}: the manifest lists ${p} as erased, but the file shows a value there`);
        for (const p of erased) if (!listed.includes(p)) this.problems.push(`${where}: the file lists ${p} as erased, but the manifest does not`);
      }
      if (this.mode === "masked") {
        for (const [p, v] of Object.entries(shown)) if (!erased.includes(p) && v !== MASKED) this.problems.push(`${where}: a masked export shows a value at ${p}`);
        return;
      }
    } else {
      const shownErased = erased.filter((p) => listed.includes(p));
      if (shownErased.length) this.erasedInFile.set(seq, shownErased);
      for (const p of listed) if (shown[p] !== ERASED) this.problems.push(`${where}: the manifest lists ${p} as erased, but the file shows a value there`);
      if (this.mode === "masked") {
        for (const [p, v] of Object.entries(shown)) {
          if (v !== MASKED && v !== ERASED) this.problems.push(`${where}: a masked export shows a value at ${p}`);
          if (v === ERASED && !listed.includes(p)) this.problems.push(`${where}: ${p} reads "[erased]", but the manifest does not list it as erased`);
        }
        return;
      }
    }
    const erasedHere = this.version === PERSONAL_OPENED_VERSION ? erased : listed;
    const seals = sealsOf(values.personal);
    const sealed = /* @__PURE__ */ new Map();
    for (const { pointer, reference } of refs) {
      const key = this.subjectKeys.get(reference.keyId);
      if (!key || erasedHere.includes(pointer)) continue;
      if (!sealed.has(reference.keyId)) {
        try {
          sealed.set(reference.keyId, openValues(seals[reference.keyId] ?? "", key, this.tenantId, values.id, reference.keyId));
        } catch {
          sealed.set(reference.keyId, null);
          this.problems.push(`${where}: the seal of key ${reference.keyId} does not open with the key given for it`);
        }
      }
      const values_ = sealed.get(reference.keyId);
      if (values_ && canonicalJson(values_[pointer] ?? null) !== canonicalJson(shown[pointer] ?? null)) {
        this.problems.push(`${where}: the opened value at ${pointer} is not the one its seal holds`);
      }
    }
  }
  /** After the last row: the manifest's list and counts cover the file exactly. */
  finish() {
    if (this.listed && this.seenListed !== this.listed.size) this.problems.push(`the manifest lists erased fields of ${this.listed.size} events, but ${this.seenListed} of them are in the file`);
    if (this.expectedRows !== null && this.expectedRows !== this.rows) this.problems.push(`the file has ${this.rows} rows with personal data; the signed manifest says ${this.expectedRows}`);
    return this.problems;
  }
};
function readSubjectKeys(text) {
  const parsed = JSON.parse(text);
  const keys = /* @__PURE__ */ new Map();
  for (const [id, value] of Object.entries(parsed)) {
    const key = typeof value === "string" ? Buffer.from(value, "base64") : null;
    if (!key || key.length !== 32) throw new Error(`the subject key ${id} is not 32 bytes of base64`);
    keys.set(id.toLowerCase(), key);
  }
  return keys;
}

// verifier/bundle-format.ts
var BUNDLE_FILES = {
  manifest: "manifest.json",
  manifestSignature: "manifest.sig",
  checkpoints: "checkpoints.json",
  /** Version 1 only: leaves/<checkpoint>.hashes. */
  leavesDir: "leaves",
  proofs: "proofs.jsonl",
  publicKey: "public-key.pem",
  verifier: "verify.mjs",
  readme: "README.txt"
};

// verifier/verify-bundle.ts
var SeqSet = class {
  constructor(from, to) {
    this.from = from;
    this.bits = new Uint8Array(from !== null && to !== null && to >= from ? Math.ceil((to - from + 1) / 8) : 0);
  }
  from;
  bits;
  outside = /* @__PURE__ */ new Set();
  at(seq) {
    return this.from === null ? -1 : seq - this.from;
  }
  has(seq) {
    const i = this.at(seq);
    return i >= 0 && i < this.bits.length * 8 ? (this.bits[i >> 3] & 1 << (i & 7)) !== 0 : this.outside.has(seq);
  }
  add(seq) {
    const i = this.at(seq);
    if (i >= 0 && i < this.bits.length * 8) this.bits[i >> 3] |= 1 << (i & 7);
    else this.outside.add(seq);
  }
};
var Failures = class {
  list = [];
  add(message) {
    if (this.list.length < 50) this.list.push(message);
    else if (this.list.length === 50) this.list.push("\u2026 further problems not listed");
  }
};
function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash4("sha256");
    createReadStream(file).on("data", (d) => h.update(d)).on("end", () => resolve(h.digest("hex"))).on("error", reject);
  });
}
async function* readRows(file, spec, columns2 = spec.columns) {
  if (spec.framing === "jsonl") {
    const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
    for await (const line of lines) if (line) yield eventValues(spec, JSON.parse(line), columns2);
    return;
  }
  if (spec.framing !== "csv") throw new Error(`${spec.label} files cannot be verified`);
  const parser = createReadStream(file).pipe(
    parse({
      bom: spec.bom,
      delimiter: spec.delimiter,
      record_delimiter: spec.recordEnd,
      relax_column_count: false,
      // Whether a cell was quoted tells an empty string ("") from an absent value (nothing).
      cast: (value, context) => context.header ? value : { text: value, quoted: context.quoting },
      columns: (header) => {
        if (header.join() !== columns2.join()) throw new Error(`the header is not the manifest's columns (${columns2.join(spec.delimiter)})`);
        return header;
      }
    })
  );
  for await (const record of parser) yield eventValues(spec, record, columns2);
}
async function readEvidence(dir, manifest, byNumber, failures) {
  const evidence = { leaves: /* @__PURE__ */ new Map(), proofs: /* @__PURE__ */ new Map() };
  const addLeaves = (number, data) => {
    const c = byNumber.get(number);
    const list = Array.from({ length: data.length / 32 }, (_, i) => data.subarray(i * 32, i * 32 + 32));
    if (!c) failures.add(`the leaves of checkpoint ${number} have no checkpoint in the bundle`);
    else if (data.length % 32 || list.length !== c.count || toHex(merkleRoot(list)) !== c.merkle_root) failures.add(`the leaves of checkpoint ${number} do not give its signed Merkle root`);
    else evidence.leaves.set(number, data);
  };
  if (manifest.bundle.version === 1) {
    for (const number of manifest.bundle.leaves) {
      const file2 = path.join(dir, BUNDLE_FILES.leavesDir, `${number}.hashes`);
      if (existsSync(file2)) addLeaves(number, readFileSync(file2));
      else failures.add(`the leaves of checkpoint ${number} are missing`);
    }
  }
  const file = path.join(dir, BUNDLE_FILES.proofs);
  if (!existsSync(file)) return evidence;
  let leafLines = 0;
  for await (const line of createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity })) {
    if (!line) continue;
    const entry = JSON.parse(line);
    if ("type" in entry && entry.type === "leaves") {
      leafLines++;
      addLeaves(entry.checkpoint, Buffer.concat(entry.hashes.map((h) => Buffer.from(fromHex(h)))));
    } else {
      const p = entry;
      evidence.proofs.set(p.seq, p);
    }
  }
  if (manifest.bundle.version === 2 && (leafLines !== manifest.bundle.leaves || evidence.proofs.size !== manifest.bundle.proofs)) {
    failures.add(`proofs.jsonl holds ${leafLines} leaf sets and ${evidence.proofs.size} audit paths; the signed manifest says ${String(manifest.bundle.leaves)} and ${String(manifest.bundle.proofs)}`);
  }
  return evidence;
}
function readKnownCheckpoint(file) {
  const json = JSON.parse(readFileSync(file, "utf8"));
  return json.format === "oms-audit-monitor-state" ? json.checkpoint : json;
}
function knownCheckpointProblems(checkpoints, known, trusted, tenantId) {
  if (known.tenant_id !== tenantId) return [`the known checkpoint ${known.number} belongs to another tenant`];
  if (checkpointHash(known) !== known.hash || known.key_id !== keyIdOf(trusted) || !verifySignature(null, checkpointBytes(known), trusted, Buffer.from(known.signature, "base64"))) {
    return [`the known checkpoint ${known.number} is not a checkpoint signed by the trusted key`];
  }
  const first = checkpoints[0];
  const last = checkpoints[checkpoints.length - 1];
  if (!first || !last) return [`the bundle holds no checkpoint to compare with the known checkpoint ${known.number}`];
  const same = checkpoints.find((c) => c.number === known.number);
  if (same) {
    return same.hash === known.hash ? [] : [`the bundle's checkpoint ${known.number} (hash ${same.hash}) is not the known checkpoint ${known.number} (hash ${known.hash}): the bundle comes from a different, re-signed history`];
  }
  if (first.number === known.number + 1) {
    return first.prev_hash === known.hash ? [] : [`the bundle's checkpoint ${first.number} does not follow the known checkpoint ${known.number}: the bundle comes from a different history`];
  }
  return [
    known.number > last.number ? `the bundle's chain ends at checkpoint ${last.number}, before the known checkpoint ${known.number}: it cannot be shown to be the same history (export again, or use an earlier known checkpoint)` : `the bundle's chain starts at checkpoint ${first.number}, after the known checkpoint ${known.number}: it cannot be shown to be the same history`
  ];
}
async function verifyBundle(dir, trusted, options = {}) {
  const failures = new Failures();
  const read = (name) => readFileSync(path.join(dir, name), "utf8");
  const trustedId = keyIdOf(trusted);
  const manifest = JSON.parse(read(BUNDLE_FILES.manifest));
  const manifestSignature = read(BUNDLE_FILES.manifestSignature).trim();
  if (!verifySignature(null, Buffer.from(canonicalJson(manifest)), trusted, Buffer.from(manifestSignature, "base64"))) {
    failures.add(`manifest.json is not signed by the trusted key ${trustedId.slice(0, 16)}\u2026 (changed, or signed by another key)`);
    return { ok: false, rows: 0, checkpoints: 0, problems: failures.list };
  }
  if (manifest.bundle?.version !== 1 && manifest.bundle?.version !== 2) {
    failures.add(`bundle version ${String(manifest.bundle?.version)} is not one this verifier reads (1, 2)`);
    return { ok: false, rows: 0, checkpoints: 0, problems: failures.list };
  }
  const dataFile = path.join(dir, manifest.file_name);
  if (!existsSync(dataFile)) failures.add(`the data file ${manifest.file_name} is missing`);
  else if (await sha256File(dataFile) !== manifest.sha256) failures.add(`${manifest.file_name} does not match the SHA-256 in the signed manifest (a row was edited, added, removed or moved)`);
  const checkpoints = JSON.parse(read(BUNDLE_FILES.checkpoints));
  checkpoints.forEach((c, i) => {
    if (c.tenant_id !== manifest.tenant_id) failures.add(`checkpoint ${c.number} belongs to another tenant`);
    if (checkpointHash(c) !== c.hash) failures.add(`checkpoint ${c.number} was changed: it no longer hashes to its recorded hash`);
    if (c.key_id !== trustedId || !verifySignature(null, checkpointBytes(c), trusted, Buffer.from(c.signature, "base64"))) {
      failures.add(`checkpoint ${c.number} is not signed by the trusted key`);
    }
    const prev = checkpoints[i - 1];
    if (prev && (c.number !== prev.number + 1 || c.seq_from !== prev.seq_to + 1 || c.prev_hash !== prev.hash)) {
      failures.add(`checkpoint ${c.number} does not follow checkpoint ${prev.number}`);
    }
    if (!prev && c.number === 1 && c.prev_hash !== GENESIS_HASH) failures.add("checkpoint 1 does not start the chain");
  });
  if (options.known) for (const problem of knownCheckpointProblems(checkpoints, options.known, trusted, manifest.tenant_id)) failures.add(problem);
  const byNumber = new Map(checkpoints.map((c) => [c.number, c]));
  const covering = (seq) => {
    let lo = 0;
    let hi = checkpoints.length - 1;
    while (lo <= hi) {
      const mid = lo + hi >> 1;
      const c = checkpoints[mid];
      if (seq < c.seq_from) hi = mid - 1;
      else if (seq > c.seq_to) lo = mid + 1;
      else return c;
    }
    return null;
  };
  if (manifest.bundle.version === 2 && checkpoints.length && (checkpoints[0].number !== manifest.bundle.checkpoints?.first || checkpoints[checkpoints.length - 1].number !== manifest.bundle.checkpoints?.last)) {
    failures.add(`checkpoints.json does not hold checkpoints ${manifest.bundle.checkpoints?.first} to ${manifest.bundle.checkpoints?.last} as the signed manifest says`);
  }
  const { leaves, proofs } = await readEvidence(dir, manifest, byNumber, failures);
  let rows = 0;
  const seen = new SeqSet(manifest.bundle.seq_from, manifest.bundle.seq_to);
  const descending = manifest.order === "desc";
  let previous = null;
  if (existsSync(dataFile)) {
    let spec;
    try {
      spec = exportFormat(manifest.format, manifest.excel);
    } catch {
      failures.add(`the format ${manifest.format} cannot be verified`);
      return { ok: false, rows: 0, checkpoints: checkpoints.length, problems: failures.list };
    }
    const columns2 = Array.isArray(manifest.columns) ? manifest.columns : spec.columns;
    const clock = columns2.includes(CLOCK_FLAG_COLUMN) ? manifest.clock : void 0;
    if (columns2.includes(CLOCK_FLAG_COLUMN) && !clock) failures.add(`the file has a ${CLOCK_FLAG_COLUMN} column, but the signed manifest states no clock tolerance`);
    const personal = columns2.includes(PERSONAL_OPENED_COLUMN) ? new PersonalOpenedCheck(manifest.tenant_id, manifest.personal, options.subjectKeys) : null;
    for await (const values of readRows(dataFile, spec, columns2)) {
      rows++;
      const event = values;
      const seq = values.seq;
      if (typeof seq !== "number" || typeof event.occurred_at !== "string") {
        failures.add(`row ${rows} cannot be read as an event`);
        continue;
      }
      if (event.tenant_id !== manifest.tenant_id) failures.add(`row ${rows} (seq ${seq}) belongs to another tenant`);
      if (seen.has(seq)) failures.add(`row ${rows}: seq ${seq} appears twice`);
      seen.add(seq);
      if (previous) {
        const after = event.occurred_at > previous.occurred_at || event.occurred_at === previous.occurred_at && seq > previous.seq;
        if (after === descending) failures.add(`row ${rows} (seq ${seq}) is out of order: rows must follow (occurred_at, seq) ${descending ? "descending" : "ascending"}`);
      }
      previous = { occurred_at: event.occurred_at, seq };
      if (clock) {
        const expected = clockFlagOf(event.occurred_at, event.received_at, clock);
        if (values[CLOCK_FLAG_COLUMN] !== expected) {
          failures.add(`row ${rows} (seq ${seq}): ${CLOCK_FLAG_COLUMN} is ${JSON.stringify(values[CLOCK_FLAG_COLUMN])}, but its times under the manifest's tolerance give ${JSON.stringify(expected)}`);
        }
      }
      personal?.check(rows, values);
      if (!isHashVersion(event.schema_version)) {
        failures.add(`row ${rows} (seq ${seq}, event ${event.id}) claims schema version ${String(values.schema_version)}, which no event was written under`);
        continue;
      }
      const hash3 = fromHex(eventHash(event));
      const c = covering(seq);
      if (!c) {
        failures.add(`row ${rows} (seq ${seq}): no checkpoint in the bundle covers it`);
        continue;
      }
      const index = seq - c.seq_from;
      const all = leaves.get(c.number);
      if (all) {
        if (!all.subarray(index * 32, index * 32 + 32).equals(Buffer.from(hash3))) failures.add(`row ${rows} (seq ${seq}, event ${event.id}) was modified: its hash is not the signed one`);
        continue;
      }
      const proof = proofs.get(seq);
      const root = proof && proof.checkpoint === c.number && proof.leaf_index === index ? rootFromProof(hash3, index, c.count, proof.audit_path.map(fromHex)) : null;
      if (!root || toHex(root) !== c.merkle_root) failures.add(`row ${rows} (seq ${seq}, event ${event.id}) was modified or is not in checkpoint ${c.number}`);
    }
    for (const problem of personal?.finish() ?? []) failures.add(problem);
  }
  if (rows !== manifest.row_count) failures.add(`the file has ${rows} rows; the signed manifest says ${manifest.row_count}`);
  if (manifest.bundle.complete && manifest.bundle.seq_from !== null && manifest.bundle.seq_to !== null) {
    let missing = 0;
    for (let seq = manifest.bundle.seq_from; seq <= manifest.bundle.seq_to; seq++) {
      if (!seen.has(seq)) {
        if (missing++ < 10) failures.add(`seq ${seq} is missing from this complete export`);
      }
    }
    if (missing > 10) failures.add(`\u2026 ${missing} events missing in all`);
  }
  return { ok: failures.list.length === 0, rows, checkpoints: checkpoints.length, problems: failures.list };
}
function usage() {
  console.error("usage: node verify.mjs (--public-key FILE | --fingerprint SHA256HEX) [--known-checkpoint FILE] [--subject-keys FILE] BUNDLE_DIRECTORY\n       node verify.mjs stream (--public-key FILE | --fingerprint SHA256HEX) DELIVERIES_DIRECTORY\n       node verify.mjs --test-vectors TEST_VECTOR_DIRECTORY");
  process.exit(2);
}
async function main(argv2) {
  let keyFile;
  let fingerprint;
  let dir;
  let knownFile;
  let subjectKeysFile;
  for (let i = 0; i < argv2.length; i++) {
    if (argv2[i] === "--public-key") keyFile = argv2[++i];
    else if (argv2[i] === "--known-checkpoint") knownFile = argv2[++i];
    else if (argv2[i] === "--subject-keys") subjectKeysFile = argv2[++i];
    else if (argv2[i] === "--fingerprint") fingerprint = argv2[++i]?.toLowerCase().replace(/[^0-9a-f]/g, "");
    else dir = argv2[i];
  }
  if (!dir || !keyFile && !fingerprint) usage();
  let key;
  if (keyFile) {
    key = createPublicKey2(readFileSync(keyFile, "utf8"));
  } else {
    key = createPublicKey2(readFileSync(path.join(dir, BUNDLE_FILES.publicKey), "utf8"));
    if (keyIdOf(key) !== fingerprint) {
      console.error(`FAILED: the bundle's public key (${keyIdOf(key)}) is not the one with fingerprint ${fingerprint}`);
      return 1;
    }
  }
  const started = performance.now();
  const known = knownFile ? readKnownCheckpoint(knownFile) : void 0;
  const subjectKeys = subjectKeysFile ? readSubjectKeys(readFileSync(subjectKeysFile, "utf8")) : void 0;
  const result = await verifyBundle(dir, key, { known, subjectKeys });
  const seconds = (performance.now() - started) / 1e3;
  if (result.ok) {
    console.log(
      `VERIFIED: ${result.rows} rows against ${result.checkpoints} signed checkpoints (key ${keyIdOf(key).slice(0, 16)}\u2026)` + (known ? `, consistent with the known checkpoint ${known.number}` : "") + ` in ${seconds.toFixed(1)} s`
    );
    return 0;
  }
  console.log(`FAILED: ${result.problems.length} problem(s)`);
  for (const p of result.problems) console.log(`  - ${p}`);
  return 1;
}

// verifier/verify-stream.ts
import { createPublicKey as createPublicKey3, verify as verifySignature2 } from "node:crypto";
import { readdirSync, readFileSync as readFileSync2, statSync } from "node:fs";
import path2 from "node:path";

// verifier/stream-format.ts
var BATCH_TYPE = "oms-audit.stream.batch";
var STATEMENT_FIELDS = ["type", "version", "stream_id", "tenant_id", "batch_id", "start_seq", "seq_from", "seq_to", "event_count", "key_id"];
function statementOf(header) {
  return Object.fromEntries(STATEMENT_FIELDS.map((f) => [f, header[f]]));
}
function headerRecord(h) {
  return { ...statementOf(h), signature: h.signature, public_key: h.public_key, checkpoints: h.checkpoints, proofs: h.proofs };
}
var epochSeconds = (iso) => Math.round(Date.parse(iso)) / 1e3;
var headerTime = (h) => h.checkpoints[h.checkpoints.length - 1]?.sealed_at ?? (/* @__PURE__ */ new Date(0)).toISOString();
var STREAM_FORMATS = {
  /** One JSON document: the header's fields and `events`. Signed per Standard Webhooks by the transport. */
  webhook: {
    contentType: "application/json",
    maxEvents: 1e3,
    encode: (batch) => JSON.stringify({ ...headerRecord(batch.header), events: batch.events })
  },
  /** Splunk HTTP Event Collector: one HEC event per record, newline-separated, header first. */
  splunk_hec: {
    contentType: "application/json",
    maxEvents: 1e3,
    encode: (batch, o) => {
      const wrap = (time, sourcetype, event) => JSON.stringify({ time, ...o.host ? { host: o.host } : {}, source: "oms-audit", sourcetype, ...o.index ? { index: o.index } : {}, event });
      return [
        wrap(epochSeconds(headerTime(batch.header)), "oms-audit:batch", headerRecord(batch.header)),
        ...batch.events.map((e) => wrap(epochSeconds(String(e.occurred_at)), "oms-audit:event", e))
      ].join("\n");
    }
  },
  /** Datadog logs intake (v2): an array of log entries; each record is the entry's `message`, as JSON text. */
  datadog: {
    contentType: "application/json",
    // The intake takes at most 1000 entries per request; one is the header.
    maxEvents: 999,
    encode: (batch, o) => {
      const entry = (kind, record) => ({
        ddsource: "oms-audit",
        ddtags: [`oms_audit_stream:${batch.header.stream_id}`, `oms_audit_record:${kind}`, ...o.tags ? [o.tags] : []].join(","),
        ...o.host ? { hostname: o.host } : {},
        service: o.service ?? "oms-audit",
        message: JSON.stringify(record)
      });
      return JSON.stringify([entry("batch", headerRecord(batch.header)), ...batch.events.map((e) => entry("event", e))]);
    }
  },
  /** S3 NDJSON: one object per batch; its first line is the header, then one event per line. */
  s3_ndjson: {
    contentType: "application/x-ndjson",
    maxEvents: 1e3,
    encode: (batch) => [JSON.stringify(headerRecord(batch.header)), ...batch.events.map((e) => JSON.stringify(e))].join("\n") + "\n"
  }
};
var STREAM_FORMAT_NAMES = Object.keys(STREAM_FORMATS);
var isObject2 = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
function decodeDelivery(text) {
  const out = { headers: [], events: [], unknown: [] };
  const visit = (value, where) => {
    if (Array.isArray(value)) return value.forEach((v, i) => visit(v, `${where}[${i}]`));
    if (!isObject2(value)) return void out.unknown.push(where);
    if (value.type === BATCH_TYPE) {
      const { events, ...header } = value;
      out.headers.push(header);
      if (Array.isArray(events)) events.forEach((e, i) => visit(e, `${where}.events[${i}]`));
      return;
    }
    if (isObject2(value.event) && ("sourcetype" in value || "time" in value)) return visit(value.event, where);
    if (typeof value.message === "string" && value.message.startsWith("{")) {
      try {
        return visit(JSON.parse(value.message), where);
      } catch {
        return void out.unknown.push(where);
      }
    }
    if (typeof value.id === "string" && typeof value.seq === "number" && typeof value.tenant_id === "string") return void out.events.push(value);
    out.unknown.push(where);
  };
  const trimmed = text.trim();
  if (!trimmed) return out;
  try {
    visit(JSON.parse(trimmed), "document");
    return out;
  } catch {
  }
  trimmed.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    try {
      visit(JSON.parse(line), `line ${i + 1}`);
    } catch {
      out.unknown.push(`line ${i + 1} (not JSON)`);
    }
  });
  return out;
}

// verifier/verify-stream.ts
var Problems = class {
  list = [];
  add(message) {
    if (this.list.length < 50) this.list.push(message);
    else if (this.list.length === 50) this.list.push("\u2026 further problems not listed");
  }
};
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const full = path2.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}
function signatureValid(data, key, signature) {
  if (!key) return false;
  try {
    return verifySignature2(null, data, key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}
async function verifyStream(dir, trusted, options = {}) {
  const problems = new Problems();
  const result = {
    ok: false,
    stream_id: options.streamId ?? null,
    tenant_id: null,
    from_seq: null,
    to_seq: null,
    files: 0,
    batches: 0,
    events: 0,
    duplicates: 0,
    checkpoints: 0,
    last_checkpoint: null,
    problems: problems.list
  };
  let startSeq = null;
  const checkpoints = /* @__PURE__ */ new Map();
  const proofs = /* @__PURE__ */ new Map();
  const events = /* @__PURE__ */ new Map();
  const batchIds = /* @__PURE__ */ new Set();
  const eventTenants = /* @__PURE__ */ new Map();
  for (const file of filesUnder(dir)) {
    result.files++;
    const name = path2.relative(dir, file);
    let decoded;
    try {
      decoded = decodeDelivery(readFileSync2(file, "utf8"));
    } catch (err) {
      problems.add(`${name}: cannot be read (${err.message})`);
      continue;
    }
    for (const where of decoded.unknown) problems.add(`${name}, ${where}: neither a batch header nor an audit event`);
    for (const header of decoded.headers) checkHeader(name, header);
    for (const event of decoded.events) {
      if (!eventTenants.has(event.tenant_id)) eventTenants.set(event.tenant_id, `${name}: event ${event.id} (seq ${event.seq})`);
      let hash3;
      try {
        hash3 = eventHash(event);
      } catch {
        problems.add(`${name}: event ${event.id} (seq ${event.seq}) cannot be read as an audit event`);
        continue;
      }
      const seen = events.get(event.seq);
      if (!seen) events.set(event.seq, { id: event.id, hash: hash3 });
      else if (seen.id === event.id && seen.hash === hash3) result.duplicates++;
      else if (seen.id !== event.id) problems.add(`${name}: seq ${event.seq} was delivered as two different events (${seen.id} and ${event.id})`);
      else problems.add(`${name}: event ${event.id} (seq ${event.seq}) was delivered twice with different contents`);
    }
  }
  function checkHeader(name, h) {
    if (!batchIds.has(h.batch_id)) {
      batchIds.add(h.batch_id);
      result.batches++;
    }
    if (!signatureValid(Buffer.from(canonicalJson(statementOf(h))), trusted.get(h.key_id), h.signature)) {
      problems.add(`${name}: batch ${h.batch_id} is not signed by a trusted key (changed, or signed by another key)`);
      return;
    }
    result.stream_id ??= h.stream_id;
    if (h.stream_id !== result.stream_id) problems.add(`${name}: batch ${h.batch_id} belongs to stream ${h.stream_id}, not ${result.stream_id}`);
    result.tenant_id ??= h.tenant_id;
    if (h.tenant_id !== result.tenant_id) problems.add(`${name}: batch ${h.batch_id} belongs to another tenant`);
    startSeq ??= h.start_seq;
    if (h.start_seq !== startSeq) problems.add(`${name}: batch ${h.batch_id} says the stream starts at seq ${h.start_seq}, others say ${startSeq}`);
    for (const c of h.checkpoints) {
      const known = checkpoints.get(c.number);
      if (!known) checkpoints.set(c.number, c);
      else if (known.hash !== c.hash || canonicalJson(known) !== canonicalJson(c)) problems.add(`${name}: checkpoint ${c.number} differs from another copy of it`);
    }
    for (const p of h.proofs) proofs.set(p.seq, [...proofs.get(p.seq) ?? [], p]);
  }
  result.events = events.size;
  for (const [tenant, first] of eventTenants) if (tenant !== result.tenant_id) problems.add(`${first} belongs to another tenant than the stream's batches`);
  if (events.size === 0) {
    if (result.batches === 0) problems.add("no delivery found: nothing to verify");
    result.ok = problems.list.length === 0 && result.batches > 0;
    return result;
  }
  const chain = [...checkpoints.values()].sort((a, b) => a.number - b.number);
  result.checkpoints = chain.length;
  chain.forEach((c, i) => {
    if (c.tenant_id !== result.tenant_id) problems.add(`checkpoint ${c.number} belongs to another tenant`);
    if (checkpointHash(c) !== c.hash) problems.add(`checkpoint ${c.number} was changed: it no longer hashes to its recorded hash`);
    if (!signatureValid(checkpointBytes(c), trusted.get(c.key_id), c.signature)) problems.add(`checkpoint ${c.number} is not signed by a trusted key`);
    const prev = chain[i - 1];
    if (prev && c.number !== prev.number + 1) problems.add(`checkpoints ${prev.number + 1}\u2013${c.number - 1} are missing`);
    else if (prev && (c.seq_from !== prev.seq_to + 1 || c.prev_hash !== prev.hash)) problems.add(`checkpoint ${c.number} does not follow checkpoint ${prev.number}`);
    if (c.number === 1 && c.prev_hash !== GENESIS_HASH) problems.add("checkpoint 1 does not start the chain");
  });
  const covering = (seq) => chain.find((c) => c.seq_from <= seq && seq <= c.seq_to) ?? null;
  const seqs = [...events.keys()].sort((a, b) => a - b).filter((seq) => options.fromSeq === void 0 || seq >= options.fromSeq);
  const from = options.fromSeq ?? startSeq ?? seqs[0];
  const to = seqs.length ? seqs[seqs.length - 1] : from - 1;
  result.from_seq = from;
  result.to_seq = to;
  let missing = 0;
  for (let seq = from; seq <= to; seq++) {
    if (!events.has(seq) && missing++ < 10) problems.add(`seq ${seq} is missing`);
  }
  if (missing > 10) problems.add(`\u2026 ${missing} events missing in all between seq ${from} and ${to}`);
  for (const seq of seqs) if (startSeq !== null && seq < startSeq) problems.add(`seq ${seq} precedes the stream's start (seq ${startSeq})`);
  const leafChecked = /* @__PURE__ */ new Set();
  for (const c of chain) {
    let all = true;
    for (let seq = c.seq_from; seq <= c.seq_to && all; seq++) all = events.has(seq);
    if (!all) continue;
    const leaves = [];
    for (let seq = c.seq_from; seq <= c.seq_to; seq++) leaves.push(fromHex(events.get(seq).hash));
    if (toHex(merkleRoot(leaves)) === c.merkle_root) {
      for (let seq = c.seq_from; seq <= c.seq_to; seq++) leafChecked.add(seq);
    }
  }
  for (const seq of seqs) {
    if (leafChecked.has(seq)) continue;
    const { id, hash: hash3 } = events.get(seq);
    const c = covering(seq);
    if (!c) {
      problems.add(`seq ${seq} (event ${id}): no delivered checkpoint covers it`);
      continue;
    }
    const index = seq - c.seq_from;
    const proven = (proofs.get(seq) ?? []).some((p) => {
      if (p.checkpoint !== c.number || p.leaf_index !== index) return false;
      const root = rootFromProof(fromHex(hash3), index, c.count, p.audit_path.map(fromHex));
      return root !== null && toHex(root) === c.merkle_root;
    });
    if (!proven) problems.add(`seq ${seq} (event ${id}) was modified or is not in checkpoint ${c.number}: its hash is not a leaf of the signed root`);
  }
  const last = chain[chain.length - 1];
  if (last) {
    let complete = true;
    for (let seq = Math.max(last.seq_from, from); seq <= last.seq_to && complete; seq++) complete = events.has(seq);
    result.last_checkpoint = { number: last.number, seq_from: last.seq_from, seq_to: last.seq_to, complete };
  }
  result.ok = problems.list.length === 0;
  return result;
}
function usage2() {
  console.error("usage: node verify.mjs stream (--public-key FILE | --fingerprint SHA256HEX)... [--stream-id ID] [--from-seq N] [--json] DELIVERIES_DIRECTORY");
  process.exit(2);
}
function trustedKeys(keyFiles, fingerprints, dir) {
  const keys = /* @__PURE__ */ new Map();
  for (const file of keyFiles) {
    const key = createPublicKey3(readFileSync2(file, "utf8"));
    keys.set(keyIdOf(key), key);
  }
  if (fingerprints.length) {
    for (const file of filesUnder(dir)) {
      let decoded;
      try {
        decoded = decodeDelivery(readFileSync2(file, "utf8"));
      } catch {
        continue;
      }
      for (const h of decoded.headers) {
        if (keys.has(h.key_id) || !fingerprints.includes(h.key_id)) continue;
        try {
          const key = createPublicKey3(h.public_key);
          if (keyIdOf(key) === h.key_id) keys.set(h.key_id, key);
        } catch {
        }
      }
    }
  }
  return keys;
}
async function main2(argv2) {
  const keyFiles = [];
  const fingerprints = [];
  let dir;
  let streamId;
  let fromSeq;
  let json = false;
  for (let i = 0; i < argv2.length; i++) {
    const a = argv2[i];
    if (a === "--public-key") keyFiles.push(argv2[++i] ?? usage2());
    else if (a === "--fingerprint") fingerprints.push((argv2[++i] ?? usage2()).toLowerCase().replace(/[^0-9a-f]/g, ""));
    else if (a === "--stream-id") streamId = argv2[++i] ?? usage2();
    else if (a === "--from-seq") {
      fromSeq = Number(argv2[++i]);
      if (!Number.isInteger(fromSeq) || fromSeq < 1) usage2();
    } else if (a === "--json") json = true;
    else if (a.startsWith("--") || dir) usage2();
    else dir = a;
  }
  if (!dir || !keyFiles.length && !fingerprints.length) usage2();
  const keys = trustedKeys(keyFiles, fingerprints, dir);
  const missingKeys = fingerprints.filter((f) => !keys.has(f));
  if (missingKeys.length) {
    console.log(`FAILED: no delivery carries the public key with fingerprint ${missingKeys.join(", ")}`);
    return 1;
  }
  const started = performance.now();
  const result = await verifyStream(dir, keys, { streamId, fromSeq });
  const seconds = (performance.now() - started) / 1e3;
  if (json) {
    console.log(JSON.stringify(result));
    return result.ok ? 0 : 1;
  }
  if (!result.ok) {
    console.log(`FAILED: ${result.problems.length} problem(s)`);
    for (const p of result.problems) console.log(`  - ${p}`);
    return 1;
  }
  const last = result.last_checkpoint;
  const range = result.from_seq === null ? "no events yet" : `every event of seq ${result.from_seq} to ${result.to_seq}`;
  console.log(
    `VERIFIED: stream ${result.stream_id}: ${range} present and unmodified (${result.events} events, ${result.duplicates} duplicate copies by id) under ${result.checkpoints} signed, linked checkpoints, in ${result.files} files, ${seconds.toFixed(1)} s.` + (last ? ` Last checkpoint ${last.number} (seq ${last.seq_from}\u2013${last.seq_to}) ${last.complete ? "delivered in full" : `delivered up to seq ${result.to_seq}`}.` : "")
  );
  return 0;
}

// verifier/test-vectors.ts
import { createPublicKey as createPublicKey4, verify as verifySignature3 } from "node:crypto";
import { readFileSync as readFileSync3 } from "node:fs";
import path3 from "node:path";
function checkTestVectors(dir) {
  const read = (name) => JSON.parse(readFileSync3(path3.join(dir, name), "utf8"));
  const failures = [];
  let checks = 0;
  const check = (ok, what) => {
    checks++;
    if (!ok) failures.push(what);
  };
  const events = read("events.json").vectors;
  for (const v of events) {
    check(canonicalEventJson(v.event) === v.canonical_json, `events.json "${v.name}": canonical JSON differs`);
    check(eventHash(v.event) === v.event_hash, `events.json "${v.name}": event hash differs`);
  }
  for (const tree of read("trees.json").trees) {
    const leaves = tree.leaves.map(fromHex);
    check(tree.leaves.length === tree.size && toHex(merkleRoot(leaves)) === tree.root, `trees.json size ${tree.size}: root differs`);
    for (const p of tree.proofs) {
      const root = rootFromProof(leaves[p.leaf_index], p.leaf_index, tree.size, p.audit_path.map(fromHex));
      check(root !== null && toHex(root) === tree.root, `trees.json size ${tree.size}: the proof of leaf ${p.leaf_index} does not lead to the root`);
    }
  }
  const vectors = read("checkpoints.json");
  const key = createPublicKey4(vectors.test_key.public_key_pem);
  check(keyIdOf(key) === vectors.test_key.key_id, "checkpoints.json: key_id is not the SHA-256 of the public key");
  const hashOf = new Map(events.map((v) => [v.event.seq, v.event_hash]));
  let prev = null;
  for (const { canonical_json: canonical, checkpoint: c, inclusion } of vectors.checkpoints) {
    const label = `checkpoints.json #${c.number}`;
    check(checkpointBytes(c).toString("utf8") === canonical, `${label}: canonical body differs`);
    check(checkpointHash(c) === c.hash, `${label}: hash differs`);
    check(verifySignature3(null, Buffer.from(canonical, "utf8"), key, Buffer.from(c.signature, "base64")), `${label}: signature does not verify`);
    check(c.key_id === vectors.test_key.key_id, `${label}: signed by another key`);
    check(c.prev_hash === (prev ? prev.hash : GENESIS_HASH) && c.number === (prev?.number ?? 0) + 1 && c.seq_from === (prev?.seq_to ?? 0) + 1, `${label}: does not follow the checkpoint before`);
    const leaves = Array.from({ length: c.count }, (_, i) => fromHex(hashOf.get(c.seq_from + i) ?? ""));
    check(toHex(merkleRoot(leaves)) === c.merkle_root, `${label}: the event hashes of seq ${c.seq_from}\u2013${c.seq_to} do not give its merkle_root`);
    for (const p of inclusion) {
      const root = rootFromProof(fromHex(hashOf.get(p.seq) ?? ""), p.leaf_index, p.tree_size, p.audit_path.map(fromHex));
      check(p.leaf_index === p.seq - c.seq_from && root !== null && toHex(root) === c.merkle_root, `${label}: the proof of seq ${p.seq} does not lead to its merkle_root`);
    }
    prev = c;
  }
  const personal = read("personal-data.json");
  const indexKey = Buffer.from(personal.index_key_hex, "hex");
  const subjects = new Map(personal.subjects.map((s) => [s.subject_id, s]));
  for (const s of personal.subjects) check(subjectRef(indexKey, s.subject_id) === s.subject_ref, `personal-data.json subject ${s.subject_id}: subject_ref differs`);
  const eventById = new Map(events.map((v) => [v.event.id, v.event]));
  for (const e of personal.seals) {
    const label = `personal-data.json ${e.event_id} ${e.subject_id}`;
    const subject = subjects.get(e.subject_id);
    const parsed = parseReference(e.reference);
    check(!!subject && !!parsed && parsed.subjectRef === subject.subject_ref && parsed.keyId === subject.key_id && e.key_id === subject.key_id, `${label}: the reference does not name its subject's ref and key`);
    check(associatedData(personal.tenant_id, e.event_id, e.key_id).toString("utf8") === e.associated_data, `${label}: associated data differs`);
    check(canonicalJson(e.values) === e.plaintext, `${label}: the plaintext is not the canonical JSON of the values`);
    check(Buffer.from(e.sealed, "base64url").subarray(0, 12).toString("hex") === e.nonce_hex, `${label}: the seal does not begin with its nonce`);
    if (subject?.key_hex) {
      let opened;
      try {
        opened = openValues(e.sealed, Buffer.from(subject.key_hex, "hex"), personal.tenant_id, e.event_id, e.key_id);
      } catch {
        opened = void 0;
      }
      check(opened !== void 0 && canonicalJson(opened) === e.plaintext, `${label}: does not open to its values`);
    }
    const stored = eventById.get(e.event_id);
    check(!!stored && sealsOf(stored.personal)[e.key_id] === e.sealed, `${label}: events.json does not hold this seal in personal.sealed`);
    const places = stored ? referencesOf(stored).filter((r) => r.reference.keyId === e.key_id).map((r) => r.pointer).sort() : [];
    check(JSON.stringify(places) === JSON.stringify(Object.keys(e.values).sort()), `${label}: events.json holds the reference at ${places.join(", ")}, the seal has ${Object.keys(e.values).join(", ")}`);
  }
  const exports = read("personal-exports.json");
  const keys = readSubjectKeys(JSON.stringify(exports.subject_keys));
  const keyOf = (id) => keys.get(id) ?? null;
  for (const mode of ["opened", "masked"]) {
    const rowCheck = new PersonalOpenedCheck(exports.tenant_id, mode === "opened" ? exports.manifest_opened : exports.manifest_masked, keys);
    for (const [i, v] of events.entries()) {
      const opened = openedPersonalData(v.event, exports.tenant_id, keyOf, mode === "masked");
      const row = exports.rows.find((r) => r.event_id === v.event.id);
      const label = `personal-exports.json ${v.event.id} (${mode})`;
      const cell = opened ? personalOpenedCell(opened) : null;
      check(row ? cell !== null && canonicalJson(cell) === canonicalJson(row[mode]) && canonicalJson(cell.erased) === canonicalJson(row.erased) : cell === null, `${label}: personal_opened differs`);
      if (row) check(row.csv_tail === `,"${canonicalJson(row.opened).replace(/"/g, '""')}"\r
` && row.jsonl_tail === `,"personal_opened":${canonicalJson(row.opened)}}
`, `${label}: the record tails differ`);
      rowCheck.check(i + 1, { ...v.event, [PERSONAL_OPENED_COLUMN]: cell });
    }
    for (const problem of rowCheck.finish()) check(false, `personal-exports.json (${mode}): ${problem}`);
  }
  return { checks, failures };
}

// verifier/cli.ts
function testVectors(dir) {
  const { checks, failures } = checkTestVectors(dir);
  if (!failures.length) {
    console.log(`TEST VECTORS OK: ${checks} checks`);
    return 0;
  }
  console.log(`FAILED: ${failures.length} of ${checks} test vector checks`);
  for (const f of failures) console.log(`  - ${f}`);
  return 1;
}
var argv = process.argv.slice(2);
var at = argv.indexOf("--test-vectors");
var run = at !== -1 ? Promise.resolve().then(() => testVectors(argv[at + 1] ?? ".")) : argv[0] === "stream" ? main2(argv.slice(1)) : main(argv);
run.then(
  (code) => process.exit(code),
  (err) => {
    console.error(`FAILED: ${err.message}`);
    process.exit(1);
  }
);

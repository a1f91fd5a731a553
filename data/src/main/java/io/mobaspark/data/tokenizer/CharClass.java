package io.mobaspark.data.tokenizer;

/**
 * The four classes of code point that the GPT-2 split pattern tells apart, exactly as
 * {@code java.util.regex} sees them with {@code UNICODE_CHARACTER_CLASS} (the flag jtokkit compiles
 * its patterns with): {@code \p{L}}, {@code \p{N}}, {@code \s} and everything else. A test checks
 * every code point against the regex classes.
 */
final class CharClass {
  static final byte OTHER = 0;
  static final byte LETTER = 1;
  static final byte NUMBER = 2;
  /** Unicode White_Space: all in the BMP, so a whitespace run is a run of chars. */
  static final byte WHITESPACE = 3;

  // One byte per BMP char: the split pattern asks for the class of every char of the text, and
  // Character.getType costs a few table walks each time.
  private static final byte[] BMP = new byte[Character.MAX_VALUE + 1];

  static {
    for (int c = 0; c <= Character.MAX_VALUE; c++) {
      BMP[c] = compute(c);
    }
  }

  private CharClass() {}

  /** The class of {@code codePoint}; a lone surrogate is {@link #OTHER}, as in the regex. */
  static byte of(int codePoint) {
    return codePoint <= Character.MAX_VALUE ? BMP[codePoint] : compute(codePoint);
  }

  private static byte compute(int codePoint) {
    switch (Character.getType(codePoint)) {
      case Character.UPPERCASE_LETTER:
      case Character.LOWERCASE_LETTER:
      case Character.TITLECASE_LETTER:
      case Character.MODIFIER_LETTER:
      case Character.OTHER_LETTER:
        return LETTER;
      case Character.DECIMAL_DIGIT_NUMBER:
      case Character.LETTER_NUMBER:
      case Character.OTHER_NUMBER:
        return NUMBER;
      case Character.SPACE_SEPARATOR:
      case Character.LINE_SEPARATOR:
      case Character.PARAGRAPH_SEPARATOR:
        return WHITESPACE;
      default:
        // The White_Space code points that are control characters: \t \n \u000B \f \r and NEL.
        return (codePoint >= 0x09 && codePoint <= 0x0D) || codePoint == 0x85 ? WHITESPACE : OTHER;
    }
  }
}

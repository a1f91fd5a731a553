package io.mobaspark.data.tokenizer;

/**
 * The pieces that GPT-2's split pattern (r50k_base, p50k_base) cuts a text into, found by hand
 * instead of by {@code java.util.regex}: the pattern, as jtokkit compiles it with
 * {@code UNICODE_CHARACTER_CLASS}, is
 *
 * <pre>'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</pre>
 *
 * <p>Every code point falls in one of the alternatives, so the matches tile the text and a piece
 * is defined by where it ends. At a start position the first alternative that matches wins, each
 * taking its longest run ({@link CharClass} gives the classes):
 * <ol>
 *   <li>an ASCII apostrophe and s, d, m, t, ll, ve or re (case-sensitive, whatever follows);
 *   <li>an optional U+0020 and a run of letters, or of numbers, or of other characters (an
 *       apostrophe that starts no contraction is other, and a run of others goes through it);
 *   <li>whitespace: the whole run if it ends the text; otherwise the run but its last char, which
 *       the lookahead {@code (?!\S)} gives back so that it can prefix the next word; a run of one
 *       char there is taken whole by the last alternative.
 * </ol>
 * Surrogate pairs are one code point; a lone surrogate is an "other" code point.
 */
final class Gpt2PreTokenizer {
  private Gpt2PreTokenizer() {}

  /** The end (exclusive, a char index) of the piece starting at {@code start < text.length()}. */
  static int pieceEnd(String text, int start) {
    int length = text.length();
    char first = text.charAt(start);
    if (first == '\'' && start + 1 < length) {
      char second = text.charAt(start + 1);
      if (second == 's' || second == 'd' || second == 'm' || second == 't') {
        return start + 2;
      }
      if (start + 2 < length) {
        char third = text.charAt(start + 2);
        if ((second == 'l' && third == 'l') || (second == 'v' && third == 'e')
            || (second == 'r' && third == 'e')) {
          return start + 3;
        }
      }
    }
    if (first == ' ' && start + 1 < length) {
      byte next = CharClass.of(text.codePointAt(start + 1));
      if (next != CharClass.WHITESPACE) {
        return runEnd(text, start + 1, next);
      }
    }
    byte kind = CharClass.of(text.codePointAt(start));
    if (kind != CharClass.WHITESPACE) {
      return runEnd(text, start, kind);
    }
    int end = runEnd(text, start, CharClass.WHITESPACE);
    return end == length ? end : Math.max(end - 1, start + 1);
  }

  /** The end of the run of code points of class {@code kind} that starts at {@code from}. */
  private static int runEnd(String text, int from, byte kind) {
    int length = text.length();
    int i = from;
    while (i < length) {
      char c = text.charAt(i);
      if (!Character.isSurrogate(c)) {
        if (CharClass.of(c) != kind) {
          return i;
        }
        i++;
      } else {
        int codePoint = text.codePointAt(i);
        if (CharClass.of(codePoint) != kind) {
          return i;
        }
        i += Character.charCount(codePoint);
      }
    }
    return i;
  }
}

package io.mobaspark.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Our r50k_base encoder against jtokkit's {@code encodeOrdinary}, which stays the reference: the
 * same ids for every text, checked piece by piece against jtokkit's split regex and id by id on
 * tricky, random and book-length text.
 */
class Gpt2BpeEncoderTest {
  /** jtokkit 1.1.0's r50k_base pattern, compiled as jtokkit compiles it. */
  private static final Pattern GPT2_SPLIT = Pattern.compile(
      "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      Pattern.UNICODE_CHARACTER_CLASS);
  private static final Encoding JTOKKIT =
      Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
  private static final Tokenizer OURS = Tokenizers.byName(Tokenizers.R50K_BASE);

  /** Surefire runs in the module folder; the fetched corpus lives in the repository's work/. */
  private static final Path NPM_CORPUS =
      Path.of(System.getProperty("mobaspark.npmCorpus", "../work/npm-corpus/text"));

  /** Snippets that random texts are built from: each one probes a rule of the pattern. */
  private static final String[] SNIPPETS = {
    "a", "Z", "word", " the", "s", "t", "d", "m", "ll", "ve", "re", "l", "v", "e", "r",
    "'", "'s", "'S", "'ll", "'ve", "'re", "'d", "'t", "''", "\u2019s",
    "0", "7", "123", "4567890", "\u0660\u0661", "\u00b2", "\u216b", "\ud835\udfce",
    " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\u000b", "\f", "\u0085", "\u00a0", "\u1680",
    "\u2003", "\u2028", "\u2029", "\u202f", "\u3000", "\u001c", "\u001f",
    ".", ",", "!?", "-", "--", "...", "(", ")", "\"", "$", "_", "@#", "=",
    "\u00e9", "e\u0301", "\u0301", "\u0915\u093f", "\u03a9\u03bb", "\u4e2d\u6587", "\u0627\u0644",
    "\u01c5", "\u02b0", "\u00aa", "\ud835\udc00", "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd",
    "\ud800", "\udc00", "\ufffd", "\ufeff", "\u200b", "\u200d", "\u0001", "\u007f", "\u0080",
    "<|endoftext|>", "\u00ff", "\u0100",
  };

  @Test
  void charClassesAreTheRegexClasses() {
    Pattern letter = Pattern.compile("\\p{L}", Pattern.UNICODE_CHARACTER_CLASS);
    Pattern number = Pattern.compile("\\p{N}", Pattern.UNICODE_CHARACTER_CLASS);
    Pattern space = Pattern.compile("\\s", Pattern.UNICODE_CHARACTER_CLASS);
    for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
      String s = new String(Character.toChars(cp));
      byte expected = letter.matcher(s).matches() ? CharClass.LETTER
          : number.matcher(s).matches() ? CharClass.NUMBER
          : space.matcher(s).matches() ? CharClass.WHITESPACE
          : CharClass.OTHER;
      if (CharClass.of(cp) != expected) {
        assertEquals(expected, CharClass.of(cp), "class of U+" + Integer.toHexString(cp));
      }
    }
  }

  @Test
  void trickyTextsSplitAndEncodeAsJtokkit() {
    List<String> texts = new ArrayList<>(List.of(
        "", " ", "a", "'", "'s", "'ll'", "'l", "'v", "'r", "x'", "I'm", "you'RE", "it's'sam",
        "we'll 've 'd'm't ''s", "don\u2019t", " 's", "!'s", "  'll",
        "Hello world", "  two spaces", "trailing spaces   ", "   ", "\t\tx", "a\n\nb", "a \n b",
        "\r\n\r\nline\r\n", "x \u00a0y", "x\u00a0 y", "\u3000\u3000\u4e2d", "end \u2028",
        "1234567890123", " 42", "3.14159", "\u0661\u0662\u0663 \u00bd \u2167",
        "caf\u00e9 cafe\u0301 \u0301alone", "na\u00efve \u00dcber stra\u00dfe",
        "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u4f60\u597d\uff0c\u4e16\u754c",
        "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947",
        "emoji \ud83d\ude00\ud83d\ude00 \ud83d\udc69\u200d\ud83d\udcbb x\ud83c\udf89y",
        "\ud835\udc00\ud835\udc01 \ud835\udfce\ud835\udfcf", "lone \ud800 high", "lone \udc00 low",
        "\udc00\ud800", "ends high \ud800", "\ufffd\ufffd replacement", "\ufeffBOM",
        "zero\u200bwidth", "ctrl\u0001\u0002 \u007f\u0085x", "\u001c\u001d\u001e\u001f",
        "<|endoftext|> and <|fim_prefix|>", "=====", "----------  ----", "http://x.org/a?b=c&d",
        "tab\tsep\tvalues\n", "\u000b\f\u000b\f",
        "a" + " ".repeat(3) + "\n" + " ".repeat(4) + "b"));
    for (String text : texts) {
      assertSameAsJtokkit(text);
    }
  }

  /** Pieces of more than {@link PieceEncoder#SHORT_PIECE_BYTES} take the heap path. */
  @Test
  void longPiecesEncodeAsJtokkit() {
    Random random = new Random(4);
    assertSameAsJtokkit(" ".repeat(5000));
    assertSameAsJtokkit(" ".repeat(5000) + "x");
    assertSameAsJtokkit("\n".repeat(300) + "\t".repeat(70));
    assertSameAsJtokkit("=".repeat(1000));
    assertSameAsJtokkit("\ud83d\ude00".repeat(100));
    assertSameAsJtokkit("\u4e2d\u6587".repeat(80));
    for (int n : new int[] {63, 64, 65, 66, 100, 257, 2000}) {
      StringBuilder letters = new StringBuilder();
      StringBuilder digits = new StringBuilder();
      StringBuilder symbols = new StringBuilder();
      for (int i = 0; i < n; i++) {
        letters.append((char) ('a' + random.nextInt(random.nextBoolean() ? 3 : 26)));
        digits.append((char) ('0' + random.nextInt(10)));
        symbols.append("!\"#$%&()*+,-./:;<=>?@[]^_{|}~".charAt(random.nextInt(29)));
      }
      assertSameAsJtokkit(letters.toString());
      assertSameAsJtokkit(" " + digits);
      assertSameAsJtokkit(symbols.toString());
      assertSameAsJtokkit("a".repeat(n));
    }
  }

  @Test
  void randomTextsSplitAndEncodeAsJtokkit() {
    Random random = new Random(20261201);
    for (int t = 0; t < 30_000; t++) {
      StringBuilder text = new StringBuilder();
      int snippets = random.nextInt(24);
      for (int i = 0; i < snippets; i++) {
        text.append(SNIPPETS[random.nextInt(SNIPPETS.length)]);
      }
      assertSameAsJtokkit(text.toString());
    }
  }

  /** The committed books of data/corpus, each as one text. */
  @Test
  void committedBooksEncodeAsJtokkit() throws IOException {
    List<Path> books = textFiles(Path.of("corpus", "gutenberg"));
    assertTrue(books.size() >= 5, books.toString());
    for (Path book : books) {
      assertSameAsJtokkit(Files.readString(book, StandardCharsets.UTF_8));
    }
  }

  /** The corpus that data/fetch-npm-corpus.sh fetches (CI has no network: skipped there). */
  @Test
  void npmCorpusEncodesAsJtokkit() throws IOException {
    assumeTrue(Files.isDirectory(NPM_CORPUS), "no fetched corpus at " + NPM_CORPUS.toAbsolutePath()
        + " (run data/fetch-npm-corpus.sh or set -Dmobaspark.npmCorpus)");
    List<Path> files = textFiles(NPM_CORPUS);
    assertTrue(files.size() > 200, files.size() + " files");
    for (Path file : files) {
      // The gutenberg half is ISO-8859-1 and the job decodes it so; as UTF-8 its bytes above 0x7F
      // also become U+FFFD, which is worth encoding too.
      byte[] bytes = Files.readAllBytes(file);
      assertSameAsJtokkit(new String(bytes, StandardCharsets.ISO_8859_1));
      assertSameAsJtokkit(new String(bytes, StandardCharsets.UTF_8));
    }
  }

  private static void assertSameAsJtokkit(String text) {
    List<String> expectedPieces = new ArrayList<>();
    Matcher m = GPT2_SPLIT.matcher(text);
    while (m.find()) {
      expectedPieces.add(m.group());
    }
    List<String> pieces = new ArrayList<>();
    for (int start = 0; start < text.length(); ) {
      int end = Gpt2PreTokenizer.pieceEnd(text, start);
      pieces.add(text.substring(start, end));
      start = end;
    }
    if (!pieces.equals(expectedPieces)) {
      assertEquals(escaped(expectedPieces), escaped(pieces), "pieces of " + escaped(text));
    }
    int[] expected = JTOKKIT.encodeOrdinary(text).toArray();
    int[] actual = OURS.encode(text);
    if (!Arrays.equals(expected, actual)) {
      assertArrayEquals(expected, actual, "ids of " + escaped(text));
    }
  }

  private static List<Path> textFiles(Path folder) throws IOException {
    try (Stream<Path> files = Files.walk(folder)) {
      return files.filter(p -> p.toString().endsWith(".txt")).sorted().toList();
    }
  }

  private static String escaped(Object value) {
    String s = String.valueOf(value);
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < Math.min(s.length(), 300); i++) {
      char c = s.charAt(i);
      out.append(c >= 0x20 && c < 0x7F ? String.valueOf(c) : String.format("\\u%04x", (int) c));
    }
    return s.length() > 300 ? out + "... (" + s.length() + " chars)" : out.toString();
  }
}

package io.mobaspark.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenizersTest {
  private static final String TRICKY = "Caf\u00e9 \u2014 na\u00efve \uD83D\uDE80 tabs\tand\n"
      + "newlines; a forged boundary <|endoftext|> inside, and <|fim_prefix|> too.";

  @Test
  void unknownNameListsTheValidOnes() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Tokenizers.byName("gpt5"));
    assertTrue(e.getMessage().contains("gpt5"), e.getMessage());
    for (String name : Tokenizers.names()) {
      assertTrue(e.getMessage().contains(name), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> Tokenizers.byName(null));
  }

  @Test
  void defaultIsGpt2() {
    Tokenizer t = Tokenizers.byName(Tokenizers.DEFAULT);
    assertEquals("r50k_base", t.name());
    assertEquals(50257, t.vocabSize());
    assertEquals(50256, t.eotId());
    assertSame(t, Tokenizers.byName("r50k_base"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"r50k_base", "cl100k_base", "bytes"})
  void roundTripsTextThatContainsSpecialTokens(String name) {
    Tokenizer t = Tokenizers.byName(name);
    assertEquals(name, t.name());
    int[] ids = t.encode(TRICKY);
    assertEquals(TRICKY, t.decode(ids));
    assertFalse(Arrays.stream(ids).anyMatch(id -> id == t.eotId()),
        "text must never encode to the end-of-text id");
    assertTrue(Arrays.stream(ids).allMatch(id -> id >= 0 && id < t.vocabSize()));
    assertEquals("<|endoftext|>", t.decode(new int[] {t.eotId()}));
    assertEquals(0, t.encode("").length);
  }

  @ParameterizedTest
  @ValueSource(strings = {"r50k_base", "cl100k_base", "bytes"})
  void rejectsIdsOutsideTheVocabularyNamingThem(String name) {
    Tokenizer t = Tokenizers.byName(name);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> t.decode(new int[] {1, t.vocabSize()}));
    assertTrue(e.getMessage().contains("ids[1] = " + t.vocabSize()), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}));
    assertThrows(IllegalArgumentException.class, () -> t.encode(null));
  }

  @Test
  void vocabularySizesAreWhatJtokkitKnows() {
    assertHighestId(EncodingType.R50K_BASE, Tokenizers.byName("r50k_base"), "<|endoftext|>");
    assertHighestId(EncodingType.CL100K_BASE, Tokenizers.byName("cl100k_base"), "<|endofprompt|>");
    assertEquals(100257, Tokenizers.byName("cl100k_base").eotId());
  }

  @Test
  void unusedIdInsideTheVocabularyIsAnIllegalArgument() {
    Tokenizer cl100k = Tokenizers.byName("cl100k_base");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> cl100k.decode(new int[] {100256}));
    assertTrue(e.getMessage().contains("100256"), e.getMessage());
  }

  /** The id below vocabSize decodes, the next hundred do not: vocabSize = highest id + 1. */
  private static void assertHighestId(EncodingType type, Tokenizer t, String highestText) {
    Encoding jtokkit = Encodings.newDefaultEncodingRegistry().getEncoding(type);
    assertEquals(highestText, jtokkit.decode(list(t.vocabSize() - 1)));
    for (int id = t.vocabSize(); id < t.vocabSize() + 100; id++) {
      int unknown = id;
      // jtokkit 1.1.0 signals an unknown id with a NullPointerException.
      assertThrows(RuntimeException.class, () -> jtokkit.decode(list(unknown)),
          type + " knows id " + id);
    }
  }

  private static IntArrayList list(int id) {
    IntArrayList l = new IntArrayList();
    l.add(id);
    return l;
  }

  @Test
  void bytesAreUtf8() {
    Tokenizer t = Tokenizers.byName("bytes");
    assertEquals(257, t.vocabSize());
    assertEquals(256, t.eotId());
    assertArrayEquals(new int[] {'h', 0xC3, 0xA9, '!'}, t.encode("h\u00e9!"));
    assertEquals("h\u00e9!", t.decode(new int[] {'h', 0xC3, 0xA9, '!'}));
    // A window may cut a character in two: that decodes to U+FFFD, not an exception.
    assertEquals("h\uFFFD", t.decode(new int[] {'h', 0xC3}));
    assertEquals("a<|endoftext|>b", t.decode(new int[] {'a', 256, 'b'}));
  }
}

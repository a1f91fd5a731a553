package io.mobaspark.trainer.exchange;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual HMAC-SHA256 challenge-response at connect (docs/exchange.md, "Authentication"): each side
 * proves that it knows the run secret by a MAC over both sides' fresh nonces, the ranks and the
 * session's terms; the secret itself never crosses the wire. The server also refuses a client whose
 * terms (world size, bucket size, wire dtype) differ from its own, with a REFUSE frame that says why.
 *
 * <pre>
 * client → HELLO      nonceC[32], worldSize, bucketElements     (header: client rank, dtype)
 * server → CHALLENGE  nonceS[32], MAC(secret, "server" | terms)  (header: server rank)
 * client → AUTH       MAC(secret, "client" | terms)
 * server → ACCEPT, or REFUSE "reason" and close
 * terms = nonceC | nonceS | clientRank | serverRank | worldSize | bucketElements | dtype
 * </pre>
 */
final class Handshake {
  static final int NONCE_BYTES = 32;
  static final int PROOF_BYTES = 32;
  private static final String WHERE = "handshake";
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final VarHandle INTS =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  private Handshake() {}

  /**
   * The connecting side, rank {@code rank}, to the server of rank {@code serverRank} (-1: driver).
   *
   * @throws ExchangeException when refused, or when the server cannot prove the secret
   */
  static void client(PeerChannel channel, ExchangeSpec spec, int rank, int serverRank) {
    byte[] nonceC = nonce();
    byte[] hello = new byte[NONCE_BYTES + 8];
    System.arraycopy(nonceC, 0, hello, 0, NONCE_BYTES);
    INTS.set(hello, NONCE_BYTES, spec.worldSize());
    INTS.set(hello, NONCE_BYTES + 4, spec.bucketElements());
    channel.write(frame(FrameType.HELLO, spec, rank, hello.length), hello, WHERE);

    byte[] challenge = new byte[2 * NONCE_BYTES];
    Frame frame = channel.expect(channel.readHeader(WHERE, false), FrameType.CHALLENGE,
        serverRank, 0, 0, 0, challenge.length, WHERE);
    channel.readPayload(frame, challenge, WHERE);
    byte[] nonceS = slice(challenge, 0);
    byte[] terms = terms(nonceC, nonceS, rank, serverRank, spec);
    byte[] proof = mac(spec, "client", terms);
    channel.write(frame(FrameType.AUTH, spec, rank, proof.length), proof, WHERE);
    channel.expect(channel.readHeader(WHERE, false), FrameType.ACCEPT, serverRank, 0, 0, 0, 0,
        WHERE);
    if (!MessageDigest.isEqual(mac(spec, "server", terms), slice(challenge, NONCE_BYTES))) {
      throw new ExchangeException("rank " + rank + ": " + channel.peer()
          + " accepted the connection but could not prove the run secret: not this run's peer");
    }
  }

  /**
   * The accepting side, rank {@code serverRank} (-1: driver); {@code expectedClient} is the rank that
   * may connect ({@link PeerChannel#ANY}: any rank of the world). On any failure the client is sent
   * a REFUSE with the reason and the channel is closed.
   *
   * @return the client's rank
   * @throws ExchangeException naming the client and the reason it was refused
   */
  static int server(PeerChannel channel, ExchangeSpec spec, int serverRank, int expectedClient) {
    try {
      return serve(channel, spec, serverRank, expectedClient);
    } catch (ExchangeException e) {
      channel.closeWith(FrameType.REFUSE, serverRank, e.getMessage());
      throw e;
    }
  }

  private static int serve(PeerChannel channel, ExchangeSpec spec, int serverRank,
      int expectedClient) {
    String self = serverRank < 0 ? "driver" : "rank " + serverRank;
    byte[] hello = new byte[NONCE_BYTES + 8];
    Frame frame = channel.expect(channel.readHeader(WHERE, false), FrameType.HELLO,
        PeerChannel.ANY, 0, 0, 0, hello.length, WHERE);
    channel.readPayload(frame, hello, WHERE);
    int clientRank = frame.rank();
    String client = "rank " + clientRank + " at " + channel.remoteAddress();
    int worldSize = (int) INTS.get(hello, NONCE_BYTES);
    int bucketElements = (int) INTS.get(hello, NONCE_BYTES + 4);
    String disagreement = clientRank < 0 || clientRank >= spec.worldSize()
        ? "rank " + clientRank + " is outside the world of " + spec.worldSize()
        : expectedClient != PeerChannel.ANY && clientRank != expectedClient
            ? "rank " + clientRank + " connected, only rank " + expectedClient + " may"
        : worldSize != spec.worldSize()
            ? "world size " + worldSize + " differs from " + self + "'s " + spec.worldSize()
        : bucketElements != spec.bucketElements() ? "bucket of " + bucketElements
            + " elements differs from " + self + "'s " + spec.bucketElements() : null;
    if (disagreement != null) {
      throw new ExchangeException(self + ": refused " + client + ": " + disagreement);
    }

    byte[] nonceS = nonce();
    byte[] terms = terms(slice(hello, 0), nonceS, clientRank, serverRank, spec);
    byte[] challenge = new byte[2 * NONCE_BYTES];
    System.arraycopy(nonceS, 0, challenge, 0, NONCE_BYTES);
    System.arraycopy(mac(spec, "server", terms), 0, challenge, NONCE_BYTES, PROOF_BYTES);
    channel.write(frame(FrameType.CHALLENGE, spec, serverRank, challenge.length), challenge, WHERE);

    byte[] proof = new byte[PROOF_BYTES];
    Frame auth = channel.expect(channel.readHeader(WHERE, false), FrameType.AUTH, clientRank, 0,
        0, 0, proof.length, WHERE);
    channel.readPayload(auth, proof, WHERE);
    if (!MessageDigest.isEqual(mac(spec, "client", terms), proof)) {
      throw new ExchangeException(self + ": refused " + client
          + ": authentication failed (its run secret differs)");
    }
    channel.write(frame(FrameType.ACCEPT, spec, serverRank, 0), new byte[0], WHERE);
    channel.identify(client);
    return clientRank;
  }

  private static Frame frame(FrameType type, ExchangeSpec spec, int rank, int length) {
    return new Frame(type, spec.wire(), 0, rank, 0, 0, 0, length);
  }

  private static byte[] terms(byte[] nonceC, byte[] nonceS, int clientRank, int serverRank,
      ExchangeSpec spec) {
    byte[] terms = new byte[2 * NONCE_BYTES + 17];
    System.arraycopy(nonceC, 0, terms, 0, NONCE_BYTES);
    System.arraycopy(nonceS, 0, terms, NONCE_BYTES, NONCE_BYTES);
    INTS.set(terms, 2 * NONCE_BYTES, clientRank);
    INTS.set(terms, 2 * NONCE_BYTES + 4, serverRank);
    INTS.set(terms, 2 * NONCE_BYTES + 8, spec.worldSize());
    INTS.set(terms, 2 * NONCE_BYTES + 12, spec.bucketElements());
    terms[2 * NONCE_BYTES + 16] = spec.wire().code();
    return terms;
  }

  /** HMAC-SHA256 keyed by the secret over a role label and the terms (labels stop reflection). */
  private static byte[] mac(ExchangeSpec spec, String role, byte[] terms) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(spec.secret().getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      mac.update(("MBXG/1 " + role).getBytes(StandardCharsets.US_ASCII));
      return mac.doFinal(terms);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is required of every Java runtime", e);
    }
  }

  private static byte[] nonce() {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    return nonce;
  }

  private static byte[] slice(byte[] src, int from) {
    byte[] out = new byte[NONCE_BYTES];
    System.arraycopy(src, from, out, 0, NONCE_BYTES);
    return out;
  }
}

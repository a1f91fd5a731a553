package io.mobaspark.jobs;

import java.io.IOException;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.security.AccessControlException;
import org.apache.hadoop.util.Progressable;

/**
 * The local disk under the scheme {@value #SCHEME}, refusing every write as HDFS refuses a user
 * without permission: how a run folder the job may not write is reported (tests run as root, so a
 * read-only local folder would not refuse anything).
 */
public class DenyingFileSystem extends TestSchemeFileSystem {
  public static final String SCHEME = "mobadeny";

  @Override
  public String getScheme() {
    return SCHEME;
  }

  @Override
  public boolean mkdirs(Path f) throws IOException {
    throw denied(f);
  }

  @Override
  public boolean mkdirs(Path f, FsPermission permission) throws IOException {
    throw denied(f);
  }

  @Override
  public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication,
      long blockSize, Progressable progress) throws IOException {
    throw denied(f);
  }

  @Override
  public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite,
      int bufferSize, short replication, long blockSize, Progressable progress) throws IOException {
    throw denied(f);
  }

  private static AccessControlException denied(Path f) {
    return new AccessControlException("Permission denied: user=test, access=WRITE, inode=\""
        + f.toUri().getPath() + "\"");
  }
}

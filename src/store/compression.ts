/**
 * One name for compression across the rooms. `Compression` is what tsbuild compresses with (a build's or an
 * output's choice, a compressed-blob note); `BlobCompression` is what a blob found in the store or in an archive
 * may be, which includes not compressed at all (an uncompressed layer media type, a tar without a magic number).
 */
export type Compression = 'gzip' | 'zstd';

export type BlobCompression = Compression | 'none';

/* audio.h: audio files in and out. Reading decodes anything the installed libsndfile decodes
 * (wav, flac, ogg, mp3, aiff ...), downmixes to mono (mean of the channels) and resamples
 * with libsamplerate as it streams, so memory stays bounded whatever the file's length.
 * Writing picks the format from the extension: .wav 16-bit PCM (or float), .flac 16-bit,
 * .ogg Vorbis; files are written under a temporary name and renamed when finished. */
#ifndef SHARKS_AUDIO_H
#define SHARKS_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* libsamplerate converter types (SRC_SINC_BEST_QUALITY = 0 ... SRC_LINEAR = 4). */
#define AUDIO_QUALITY_DEFAULT 1 /* SRC_SINC_MEDIUM_QUALITY */
/* Parses "best", "medium", "fastest", "zoh", "linear"; -1 if unknown. */
int audio_quality_from_name(const char *name);

typedef struct audio_reader audio_reader;

/* Opens a file; out_rate 0 keeps the file's own rate. NULL with an error on failure (among
 * them a WAV whose header declares more audio than the file holds). */
audio_reader *audio_open(const char *path, int out_rate, int quality);
int audio_file_rate(const audio_reader *r);
int audio_file_channels(const audio_reader *r);
/* Frames in the file at its own rate (-1 when the format cannot tell). */
int64_t audio_file_frames(const audio_reader *r);
/* Reads up to n mono samples at the output rate. Returns the count (< n only at the end),
 * 0 at the end, -1 with an error: a decode error mid-file, a NaN or infinite sample, or an end
 * before the frames the header declares (a cut file; not known for MP3, whose length libsndfile
 * estimates, nor for a pipe). */
long audio_read(audio_reader *r, float *out, long n);
void audio_close(audio_reader *r);

/* Non-finite audio is refused where it enters. 0 when x[0..n) are all finite; else records
 * "sample K (at T s) [of channel C] is NaN|infinite: ..." for the first bad value and returns
 * -1. x holds interleaved frames of channels (1 for mono), the first being sample number first;
 * the time is given when rate > 0. The reader applies it to every decoded block. */
int audio_check_finite(const float *x, size_t n, int channels, int64_t first, int rate);

/* Reads a whole file (mono, at rate, 0 = its own) into a malloc'd buffer. */
int audio_read_all(const char *path, int rate, int quality, float **out, size_t *n);

typedef enum { AUDIO_AUTO, AUDIO_WAV16, AUDIO_WAV_FLOAT, AUDIO_FLAC, AUDIO_OGG } audio_format;
/* The format an extension implies (AUDIO_AUTO resolved), or -1 for an unknown extension. */
int audio_format_for_path(const char *path);

typedef struct audio_writer audio_writer;
audio_writer *audio_create(const char *path, int rate, audio_format fmt);
/* Writes n mono samples (clipped to [-1, 1] by libsndfile's float→int conversion). */
int audio_write(audio_writer *w, const float *x, long n);
/* Closes and renames into place. */
int audio_finish(audio_writer *w);
/* Closes and removes the unfinished file. */
void audio_abort(audio_writer *w);
int audio_write_file(const char *path, int rate, audio_format fmt, const float *x, size_t n);

#endif

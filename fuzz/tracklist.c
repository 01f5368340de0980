/* fuzz/tracklist.c: the text files albumpage reads back (lib/album.c): curate's
 * tracklist.tsv and qtrain's log.tsv, from arbitrary bytes. */
#include "album.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_path(data, size, path, sizeof path);
	album_clip_row *rows = NULL;
	int n = 0;
	album_read_tracklist(path, &rows, &n); /* on failure too, *rows holds the n rows read */
	for (int i = 0; i < n; i++)
		free(rows[i].clip);
	free(rows);
	album_training t;
	album_read_log(path, &t);
	close(fd);
	return 0;
}

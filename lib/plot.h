/* plot.h: line plots to PNG with cairo, for training curves (RUNDIR/loss.png): several named
 * series over one x axis, axes with round-numbered ticks, labels and a legend. Written under a
 * temporary name and renamed, so a reader never sees half a picture. */
#ifndef SHARKS_PLOT_H
#define SHARKS_PLOT_H

typedef struct {
	const char *label;
	const double *x, *y; /* n points; a non-finite y leaves a gap */
	int n;
	double rgb[3];
} plot_series;

/* Draws the series on a width × height image. Returns 0, or -1 with an error. */
int plot_lines_png(const char *path, int width, int height, const char *title, const char *xlabel, const char *ylabel,
		   const plot_series *series, int nseries);

/* Round tick spacing (1, 2 or 5 times a power of ten) giving about `want` ticks over [lo, hi]. */
double plot_tick_step(double lo, double hi, int want);

#endif

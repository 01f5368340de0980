/* plot.c: line plots with cairo (see plot.h). */
#include "plot.h"
#include "util.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

double plot_tick_step(double lo, double hi, int want)
{
	double range = hi - lo;
	if (!(range > 0) || want < 1)
		return 1;
	double raw = range / want, p = pow(10, floor(log10(raw))), f = raw / p;
	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Data range of all finite points; returns 0 when there are none. */
static int data_range(const plot_series *s, int ns, double *x0, double *x1, double *y0, double *y1)
{
	int any = 0;
	for (int k = 0; k < ns; k++)
		for (int i = 0; i < s[k].n; i++) {
			double x = s[k].x[i], y = s[k].y[i];
			if (!isfinite(x) || !isfinite(y))
				continue;
			if (!any) {
				*x0 = *x1 = x;
				*y0 = *y1 = y;
				any = 1;
			}
			*x0 = fmin(*x0, x), *x1 = fmax(*x1, x);
			*y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
		}
	return any;
}

static void fmt_tick(char *buf, size_t cap, double v, double step)
{
	if (fabs(v) < step * 1e-6)
		v = 0;
	int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	if (fabs(v) >= 1e6)
		snprintf(buf, cap, "%.3g", v);
	else
		snprintf(buf, cap, "%.*f", dec, v);
}

int plot_lines_png(const char *path, int width, int height, const char *title, const char *xlabel, const char *ylabel,
		   const plot_series *s, int ns)
{
	double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
	if (!data_range(s, ns, &x0, &x1, &y0, &y1))
		x0 = 0, x1 = 1, y0 = 0, y1 = 1;
	if (x1 <= x0)
		x0 -= 0.5, x1 += 0.5;
	if (y1 <= y0)
		y0 -= 0.5, y1 += 0.5;
	double pad = 0.05 * (y1 - y0);
	y0 -= pad, y1 += pad;
	double xs = plot_tick_step(x0, x1, 6), ys = plot_tick_step(y0, y1, 6);

	cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
	cairo_t *cr = cairo_create(surf);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, 12);

	/* plot area in pixels */
	double L = 70, R = width - 20, T = 40, B = height - 50;
#define PX(x) (L + ((x)-x0) / (x1 - x0) * (R - L))
#define PY(y) (B - ((y)-y0) / (y1 - y0) * (B - T))
	cairo_text_extents_t te;
	char buf[64];

	/* grid and ticks */
	cairo_set_line_width(cr, 1);
	for (double v = ceil(x0 / xs) * xs; v <= x1 + xs * 1e-9; v += xs) {
		double px = round(PX(v)) + 0.5;
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, px, T), cairo_line_to(cr, px, B), cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		fmt_tick(buf, sizeof buf, v, xs);
		cairo_text_extents(cr, buf, &te);
		cairo_move_to(cr, px - te.width / 2 - te.x_bearing, B + 16);
		cairo_show_text(cr, buf);
	}
	for (double v = ceil(y0 / ys) * ys; v <= y1 + ys * 1e-9; v += ys) {
		double py = round(PY(v)) + 0.5;
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, L, py), cairo_line_to(cr, R, py), cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		fmt_tick(buf, sizeof buf, v, ys);
		cairo_text_extents(cr, buf, &te);
		cairo_move_to(cr, L - 6 - te.width - te.x_bearing, py + te.height / 2);
		cairo_show_text(cr, buf);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_rectangle(cr, L + 0.5, T + 0.5, R - L, B - T);
	cairo_stroke(cr);

	/* labels */
	if (xlabel) {
		cairo_text_extents(cr, xlabel, &te);
		cairo_move_to(cr, (L + R) / 2 - te.width / 2, height - 12);
		cairo_show_text(cr, xlabel);
	}
	if (ylabel) {
		cairo_text_extents(cr, ylabel, &te);
		cairo_save(cr);
		cairo_move_to(cr, 18, (T + B) / 2 + te.width / 2);
		cairo_rotate(cr, -M_PI / 2);
		cairo_show_text(cr, ylabel);
		cairo_restore(cr);
	}
	if (title) {
		cairo_set_font_size(cr, 14);
		cairo_text_extents(cr, title, &te);
		cairo_move_to(cr, (L + R) / 2 - te.width / 2, 24);
		cairo_show_text(cr, title);
		cairo_set_font_size(cr, 12);
	}

	/* the series, clipped to the plot area; a single point is drawn as a dot */
	cairo_save(cr);
	cairo_rectangle(cr, L, T, R - L, B - T);
	cairo_clip(cr);
	cairo_set_line_width(cr, 2);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	for (int k = 0; k < ns; k++) {
		cairo_set_source_rgb(cr, s[k].rgb[0], s[k].rgb[1], s[k].rgb[2]);
		int pen = 0;
		for (int i = 0; i < s[k].n; i++) {
			double x = s[k].x[i], y = s[k].y[i];
			if (!isfinite(x) || !isfinite(y)) {
				pen = 0;
				continue;
			}
			int next_ok = i + 1 < s[k].n && isfinite(s[k].x[i + 1]) && isfinite(s[k].y[i + 1]);
			if (!pen && !next_ok) {
				cairo_new_sub_path(cr);
				cairo_arc(cr, PX(x), PY(y), 2.5, 0, 2 * M_PI);
				cairo_fill(cr);
				continue;
			}
			if (pen)
				cairo_line_to(cr, PX(x), PY(y));
			else
				cairo_move_to(cr, PX(x), PY(y));
			pen = 1;
		}
		cairo_stroke(cr);
	}
	cairo_restore(cr);

	/* legend, top right */
	double ly = T + 16;
	for (int k = 0; k < ns; k++) {
		if (!s[k].label)
			continue;
		cairo_text_extents(cr, s[k].label, &te);
		double lx = R - 12 - te.x_advance - 28;
		cairo_set_source_rgb(cr, s[k].rgb[0], s[k].rgb[1], s[k].rgb[2]);
		cairo_set_line_width(cr, 2);
		cairo_move_to(cr, lx, ly - 4), cairo_line_to(cr, lx + 20, ly - 4), cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		cairo_move_to(cr, lx + 26, ly);
		cairo_show_text(cr, s[k].label);
		ly += 18;
	}
#undef PX
#undef PY

	cairo_destroy(cr);
	cairo_surface_flush(surf);
	char tmp[4096];
	sh_tmp_name(tmp, sizeof tmp, path);
	sh_tmp_track(tmp, 1);
	cairo_status_t st = cairo_surface_status(surf);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_write_to_png(surf, tmp);
	cairo_surface_destroy(surf);
	if (st != CAIRO_STATUS_SUCCESS) {
		sh_tmp_finish(tmp, path, -1);
		return sh_error("%s: cannot write PNG: %s", path, cairo_status_to_string(st));
	}
	return sh_tmp_finish(tmp, path, 0) ? sh_error_prefix("%s", path) : 0;
}

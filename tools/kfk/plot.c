/*
 * plot.c -- the two plots of kfk: a self-contained SVG line chart (lag over
 * time for `kfk groups lag --watch --plot`, throughput and latency for
 * `kfk bench --plot`) and a one-line sparkline of block characters for the
 * terminal.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cli.h"

#define W  800
#define H  400
#define ML 80 /* margins: left, right, top, bottom */
#define MR 20
#define MT 40
#define MB 50

static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c",
                               "#ff7f0e", "#9467bd", "#8c564b"};

static void
xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A "nice" step for about n ticks over range. */
static double
nice_step(double range, int n)
{
    if (range <= 0) return 1;
    double raw = range / n;
    double mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    double s = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
    return s * mag;
}

bool
plot_svg(const char *path, const char *title, const char *xlabel,
         const char *ylabel, const plot_series *s, size_t ns)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write plot %s: %s", path, strerror(errno));
        return false;
    }
    double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y1 = fmax(y1, s[k].y[i]);
        }
    if (!isfinite(x0)) {
        x0 = 0;
        x1 = 1;
    }
    if (x1 <= x0) x1 = x0 + 1;
    double ystep = nice_step(y1 > 0 ? y1 : 1, 5);
    y1 = ceil((y1 > 0 ? y1 : 1) / ystep) * ystep;
    double xstep = nice_step(x1 - x0, 8);
    const double pw = W - ML - MR, ph = H - MT - MB;
#define PX(x) (ML + ((x)-x0) / (x1 - x0) * pw)
#define PY(y) (MT + ph - (y) / y1 * ph)
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(f,
            "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" "
            "font-size=\"16\">",
            W / 2);
    xml_text(f, title);
    fputs("</text>\n", f);
    /* Grid and axis labels. */
    char buf[32];
    for (double y = 0; y <= y1 + ystep / 2; y += ystep) {
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n<text x=\"%d\" y=\"%.1f\" "
                "text-anchor=\"end\">%s</text>\n",
                ML, W - MR, PY(y), PY(y), ML - 6, PY(y) + 4,
                fmt_si(buf, sizeof(buf), y));
    }
    for (double x = ceil(x0 / xstep) * xstep; x <= x1 + xstep / 1e6;
         x += xstep) {
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
                "stroke=\"#eee\"/>\n<text x=\"%.1f\" y=\"%d\" "
                "text-anchor=\"middle\">%s</text>\n",
                PX(x), PX(x), MT, H - MB, PX(x), H - MB + 16,
                fmt_si(buf, sizeof(buf), x));
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" "
            "fill=\"none\" stroke=\"#333\"/>\n",
            ML, MT, pw, ph);
    fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">", ML + pw / 2,
            H - 12);
    xml_text(f, xlabel);
    fprintf(f,
            "</text>\n<text transform=\"translate(16 %.0f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            MT + ph / 2);
    xml_text(f, ylabel);
    fputs("</text>\n", f);
    for (size_t k = 0; k < ns; k++) {
        const char *c = colors[k % (sizeof(colors) / sizeof(colors[0]))];
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"2\" points=\"",
                c);
        for (size_t i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && isfinite(s[k].y[i]))
                fprintf(f, "%.1f,%.1f ", PX(s[k].x[i]), PY(s[k].y[i]));
        fputs("\"/>\n", f);
        if (s[k].name) {
            fprintf(f,
                    "<rect x=\"%d\" y=\"%zu\" width=\"12\" height=\"3\" "
                    "fill=\"%s\"/><text x=\"%d\" y=\"%zu\">",
                    ML + 10, (size_t)MT + 12 + 16 * k, c, ML + 28,
                    (size_t)MT + 16 + 16 * k);
            xml_text(f, s[k].name);
            fputs("</text>\n", f);
        }
    }
#undef PX
#undef PY
    fputs("</svg>\n", f);
    if (fclose(f) != 0) {
        cli_error("cannot write plot %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

void
sparkline(FILE *f, const double *v, size_t n, size_t width)
{
    static const char *blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                   "\u2585", "\u2586", "\u2587", "\u2588"};
    size_t start = n > width ? n - width : 0;
    double min = INFINITY, max = -INFINITY;
    for (size_t i = start; i < n; i++) {
        min = fmin(min, v[i]);
        max = fmax(max, v[i]);
    }
    for (size_t i = start; i < n; i++) {
        /* Scaled from the lowest to the highest value shown, so a trend
         * stands out; a flat line sits in the middle. */
        int b = max > min ? (int)lround((v[i] - min) / (max - min) * 7) : 3;
        fputs(blocks[b < 0 ? 0 : b > 7 ? 7 : b], f);
    }
}

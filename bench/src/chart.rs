//! The report's chart: two panels of horizontal bars, each bar a median with a line for the
//! spread of its runs.

use crate::report::Report;
use crate::stats::Summary;
use crate::through_apache::{Handler, Workload};
use plotters::prelude::*;
use std::path::Path;

const WIDTH: u32 = 1000;
const BAR_HEIGHT: u32 = 28;
const LABEL_WIDTH: i32 = 190;
const BASELINE: RGBColor = RGBColor(150, 150, 150);
const WASM: RGBColor = RGBColor(101, 79, 240);
const SPREAD: RGBColor = RGBColor(20, 20, 20);

struct Bar {
    label: String,
    value: Summary,
    text: String,
    baseline: bool,
}

pub fn write(path: &Path, report: &Report) -> Result<(), String> {
    let requests = request_bars(report);
    let kernel = kernel_bars(report);
    let panel_height = |bars: usize| 60 + bars as u32 * BAR_HEIGHT;
    let (top, bottom) = (panel_height(requests.len()), panel_height(kernel.len()));
    let root = SVGBackend::new(path, (WIDTH, top + bottom)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let (upper, lower) = root.split_vertically(top);
        panel(
            &upper,
            "hello through Apache, 16 clients: requests/s (more is better)",
            &requests,
        )?;
        panel(
            &lower,
            &format!(
                "SHA-256 over {} MiB in process: ms (less is better)",
                report.plan.kernel_mib
            ),
            &kernel,
        )?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn request_bars(report: &Report) -> Vec<Bar> {
    let mut handlers = vec![Handler::StaticFile, Handler::NativeCgi];
    handlers.extend(
        report
            .in_process
            .runtimes
            .iter()
            .map(|figures| Handler::Wasm(figures.runtime)),
    );
    handlers
        .into_iter()
        .filter_map(|handler| {
            let figures = report.through_apache.find(&handler, Workload::Hello, 16)?;
            let rps = figures.requests_per_second;
            Some(Bar {
                label: handler.label(),
                value: rps,
                text: format!("{:.0}", rps.median),
                baseline: !matches!(handler, Handler::Wasm(_)),
            })
        })
        .collect()
}

/// Native and the compiled runtimes; an interpreter would flatten the scale.
fn kernel_bars(report: &Report) -> Vec<Bar> {
    let native = &report.in_process.native_kernel;
    let mut bars = vec![Bar {
        label: "native".to_owned(),
        value: native.millis,
        text: format!("{:.0} ms", native.millis.median),
        baseline: true,
    }];
    for figures in report.in_process.runtimes.iter().filter(|f| !f.interprets) {
        bars.push(Bar {
            label: figures.runtime.to_owned(),
            value: figures.kernel.millis,
            text: format!(
                "{:.0} ms, {:.2} × native",
                figures.kernel.millis.median,
                report.kernel_ratio(figures)
            ),
            baseline: false,
        });
    }
    bars
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    bars: &[Bar],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let area = area.titled(title, ("sans-serif", 18))?;
    let (width, _) = area.dim_in_pixel();
    let scale_width = width as i32 - LABEL_WIDTH - 190;
    let largest = bars
        .iter()
        .map(|bar| bar.value.max)
        .fold(f64::MIN_POSITIVE, f64::max);
    let x = |value: f64| LABEL_WIDTH + (value / largest * scale_width as f64) as i32;
    let label_style = ("sans-serif", 14).into_font().color(&BLACK);
    for (index, bar) in bars.iter().enumerate() {
        let top = 10 + index as i32 * BAR_HEIGHT as i32;
        let bottom = top + BAR_HEIGHT as i32 - 8;
        let middle = (top + bottom) / 2;
        area.draw(&Text::new(
            bar.label.clone(),
            (8, top + 3),
            label_style.clone(),
        ))?;
        let color = if bar.baseline { BASELINE } else { WASM };
        area.draw(&Rectangle::new(
            [(LABEL_WIDTH, top), (x(bar.value.median), bottom)],
            color.filled(),
        ))?;
        area.draw(&PathElement::new(
            [(x(bar.value.min), middle), (x(bar.value.max), middle)],
            SPREAD.stroke_width(2),
        ))?;
        area.draw(&Text::new(
            bar.text.clone(),
            (x(bar.value.max) + 8, top + 3),
            label_style.clone(),
        ))?;
    }
    Ok(())
}

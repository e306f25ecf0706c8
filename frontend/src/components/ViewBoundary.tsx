import { Component, Fragment, type ReactNode } from "react";
import { ErrorState } from "./States";

interface Props {
  /** The view's name as its tab shows it. */
  view: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
  /** Bumped by "Try again": the view mounts afresh rather than re-rendering its broken state. */
  attempt: number;
}

/** An error thrown while one view renders shows here, with a retry, instead of unmounting the
 * whole app: the header and the other tabs stay usable. (React logs the error itself.) */
export class ViewBoundary extends Component<Props, State> {
  state: State = { error: null, attempt: 0 };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  private retry = () => {
    this.setState(({ attempt }) => ({ error: null, attempt: attempt + 1 }));
  };

  render() {
    if (this.state.error) {
      return (
        <ErrorState
          title={`The ${this.props.view} view failed to show`}
          error={this.state.error}
          onRetry={this.retry}
        />
      );
    }
    return <Fragment key={this.state.attempt}>{this.props.children}</Fragment>;
  }
}
